"""hall-center sample (center/samplecli.py): --help documents the command
line; a draw prints its seed and call list and stores it; --repeat redraws
with the stored seed and says whether the records are the same."""
import csv
import re
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from hallcore.hallclock import DEFAULT_TZ
from center.cli import main
from center.config import load_config
from center.ingest import ingest
from center.service import Center
from tests.support.center import make_vote
from tests.support.paths import REPO

DAY = datetime(2026, 11, 27, 10, 0, tzinfo=DEFAULT_TZ)


def test_help_documents_every_option_and_both_forms():
    out = subprocess.run([sys.executable, "-m", "center.cli", "sample", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    for option in ("--config", "--from YYYY-MM-DD", "--to YYYY-MM-DD", "--share", "--seed",
                   "--window", "--by", "--csv FILE", "--repeat DRAW_ID"):
        assert option in text, option
    assert ("hall-center sample --config FILE --from YYYY-MM-DD --to YYYY-MM-DD\n"
            "                     [--share 0.05] [--seed N] [--window W] [--by NAME] [--csv FILE]") in text
    assert "hall-center sample --config FILE --repeat DRAW_ID" in text
    assert "办件编号" in text and "exit status" in text
    top = subprocess.run([sys.executable, "-m", "center.cli", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60).stdout
    assert "sample" in top


@pytest.fixture
def config(tmp_path):
    p = tmp_path / "center.toml"
    p.write_text('[center]\ndatabase = "center.sqlite3"\n\n[supervision]\nshare = 0.1\n', encoding="utf-8")
    c = Center(load_config(p))
    c.migrate()
    c.add_device("tab-03", "taojiang", "03")
    ingest(c, "tab-03", [make_vote("tab-03", i, bad=(i % 4 == 0), at=DAY + timedelta(minutes=i))
                         for i in range(1, 31)])
    c.engine.dispose()
    return p


def test_a_draw_prints_its_seed_and_call_list_and_writes_the_csv(config, tmp_path, capsys):
    out_csv = tmp_path / "calls.csv"
    assert main(["sample", "--config", str(config), "--from", "2026-11-01", "--to", "2026-11-30",
                 "--seed", "424242", "--by", "chen", "--csv", str(out_csv)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("draw 1: 2026-11-01..2026-11-30, share 0.1, seed 424242: 3 of 30 evaluated records")
    assert "per window: 03 3/30" in out
    lines = [l for l in out.splitlines() if l.startswith("03\t")]
    assert len(lines) == 3 and all(re.search(r"\tCN0000\d\d\tA0\d\d\t李明（1024）\t居民身份证换领\t2026-11-27 10:\d\d\t", l)
                                   for l in lines)
    assert "13812345678" not in out                   # masked here; in full on the supervisor's page
    with out_csv.open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0][:7] == ["窗口", "办件编号", "取号", "工作人员", "事项", "评价时间", "联系电话"]
    assert len(rows) == 4 and {r[1] for r in rows[1:]} == {l.split("\t")[1] for l in lines}


def test_repeat_finds_the_same_records_then_notices_late_ones(config, capsys):
    main(["sample", "--config", str(config), "--from", "2026-11-01", "--to", "2026-11-30", "--by", "chen"])
    seed = re.search(r"seed (\d+)", capsys.readouterr().out).group(1)
    assert main(["sample", "--config", str(config), "--repeat", "1"]) == 0
    assert capsys.readouterr().out.startswith(f"draw 1 repeated with seed {seed}: the same 3 records")
    c = Center(load_config(config))
    ingest(c, "tab-03", [make_vote("tab-03", i, at=DAY) for i in range(100, 140)])
    c.engine.dispose()
    assert main(["sample", "--config", str(config), "--repeat", "1"]) == 1
    out = capsys.readouterr().out
    assert "DIFFERENT records" in out and "window 03: 30 evaluated records at the draw, 70 now" in out


@pytest.mark.parametrize("args,message", [
    (["--from", "2026-11-01"], "sample needs --from and --to"),
    (["--repeat", "1", "--seed", "3"], "--repeat takes no --seed"),
    (["--repeat", "9"], "no draw 9"),
    (["--from", "2026-11-01", "--to", "2026-11-30", "--share", "1.5"], "抽样比例 '1.5' 无效"),
    (["--from", "2026-10-01", "--to", "2026-10-31"], "没有已评价的办件"),
])
def test_bad_command_lines_exit_2_with_the_reason(config, capsys, args, message):
    assert main(["sample", "--config", str(config), *args]) == 2
    assert message in capsys.readouterr().err


def test_a_bad_date_or_seed_is_refused_by_the_parser(config, capsys):
    for bad in (["--from", "27.11.2026", "--to", "2026-11-30"], ["--from", "2026-11-01", "--to",
                                                                  "2026-11-30", "--seed", "-4"]):
        with pytest.raises(SystemExit) as e:
            main(["sample", "--config", str(config), *bad])
        assert e.value.code == 2
    err = capsys.readouterr().err
    assert "'27.11.2026' is not a date YYYY-MM-DD" in err and "'-4' is not a whole number" in err


def test_a_bad_share_in_the_config_names_the_key(tmp_path):
    from center.config import ConfigError
    p = tmp_path / "c.toml"
    p.write_text('[center]\ndatabase = "x.sqlite3"\n[supervision]\nshare = 0\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="supervision.share"):
        load_config(p)
    p.write_text('[center]\ndatabase = "x.sqlite3"\n[supervision]\nshares = 0.1\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="shares"):
        load_config(p)
