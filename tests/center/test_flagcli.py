"""hall-center flags (center/flagcli.py): --help documents both forms; scan
prints what it raised (and nothing new the second time); list prints the
open, dismissed or all flags without a phone number in clear."""
import subprocess
import sys
from datetime import datetime, timedelta

import pytest

from center import flagwork
from center.cases import Actor
from center.cli import main
from center.config import load_config
from center.ingest import ingest
from center.service import Center
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import make_vote
from tests.support.paths import REPO

DAY = datetime(2026, 11, 26, 10, 0, tzinfo=DEFAULT_TZ)
PHONE = "13912345678"


def test_help_documents_both_forms():
    out = subprocess.run([sys.executable, "-m", "center.cli", "flags", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "hall-center flags scan --config FILE [--today YYYY-MM-DD]" in out.stdout
    assert "hall-center flags list --config FILE [--state open|dismissed|superseded|all]" in out.stdout
    assert "exit status" in out.stdout
    top = subprocess.run([sys.executable, "-m", "center.cli", "--help"], cwd=REPO,
                         capture_output=True, text=True, timeout=60).stdout
    assert "flags" in top


@pytest.fixture
def config(tmp_path):
    p = tmp_path / "center.toml"
    p.write_text('[center]\ndatabase = "center.sqlite3"\n\n[anomalies]\nperiod_days = 7\n', encoding="utf-8")
    c = Center(load_config(p))
    c.migrate()
    c.add_device("tab-03", "taojiang", "03")
    votes = [make_vote("tab-03", i, at=DAY + timedelta(seconds=10 * i)) for i in range(1, 6)]
    votes += [make_vote("tab-03", 10 + i, bad=True, phone=PHONE, at=DAY + timedelta(hours=2 + i))
              for i in range(3)]
    assert {a["status"] for a in ingest(c, "tab-03", votes)} == {"stored"}
    c.engine.dispose()
    return p


def test_scan_prints_what_it_raised_and_then_nothing_new(config, capsys):
    assert main(["flags", "scan", "--config", str(config), "--today", "2026-11-27"]) == 0
    out = capsys.readouterr().out
    first = out.splitlines()[0]
    assert first.startswith("scanned 2026-11-16..2026-11-26 (period rules: 2026-11-16–2026-11-22): 8 records")
    assert "2 flags tripped, 2 new, 0 already stored" in first
    assert "\t短时间内连续最高评价\twindow:03\t窗口 03：5 位群众在 40 秒内均给出最高评价\t(5 records)" in out
    assert "同一号码多次差评" in out and "139****5678" in out and PHONE not in out
    assert main(["flags", "scan", "--config", str(config), "--today", "2026-11-27"]) == 0
    assert "2 flags tripped, 0 new, 2 already stored" in capsys.readouterr().out


def test_list_prints_the_flags_by_state(config, capsys):
    main(["flags", "scan", "--config", str(config), "--today", "2026-11-27"])
    capsys.readouterr()
    assert main(["flags", "list", "--config", str(config)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 flag(s) open, newest first") and PHONE not in out
    assert "2026-11-26 10:00:10 至 10:00:50" in out
    c = Center(load_config(config))
    try:
        with c.engine.connect() as conn:
            burst = next(r for r in flagwork.all_rows(conn) if r.kind == "top_burst")
        flagwork.dismiss(c, burst.id, Actor("chen", "supervisor"), "经核实，系团体办事")
    finally:
        c.engine.dispose()
    main(["flags", "list", "--config", str(config), "--state", "dismissed"])
    out = capsys.readouterr().out
    assert out.startswith("1 flag(s) dismissed") and "dismissed by chen at" in out and "经核实，系团体办事" in out
    main(["flags", "list", "--config", str(config), "--state", "all"])
    assert capsys.readouterr().out.startswith("2 flag(s) all")


def test_a_bad_date_is_refused(config, capsys):
    with pytest.raises(SystemExit) as e:
        main(["flags", "scan", "--config", str(config), "--today", "27.11.2026"])
    assert e.value.code == 2 and "is not a date YYYY-MM-DD" in capsys.readouterr().err





def test_add_user_keeps_the_users_own_staff_id(config, tmp_path, capsys):
    from sqlalchemy import select

    from center.db import users
    pw = tmp_path / "pw.txt"
    pw.write_text("li-pass-1\n", encoding="utf-8")
    assert main(["add-user", "li", "--role", "supervisor", "--staff-id", "1024", "--password-file", str(pw),
                 "--config", str(config)]) == 0
    assert "user li (supervisor, staff 1024) added." in capsys.readouterr().out
    c = Center(load_config(config))
    try:
        with c.engine.connect() as conn:
            assert conn.execute(select(users.c.staff_id).where(users.c.name == "li")).scalar_one() == "1024"
    finally:
        c.engine.dispose()
