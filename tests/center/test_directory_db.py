"""The directory in the database, on SQLite and PostgreSQL: `hall-center
directory import` (diff, confirmation, --replace, --yes, errors) and
`export` (round trip, a draft from the config's [departments]); statistics
by department through the directory, recomputed here from the raw rows,
with windows and staff it does not know shown as 未登记 and still counted."""
import io
from collections import Counter
from datetime import date, datetime

import pytest
from sqlalchemy import select

from center import casework, directory_db, stats
from center.cases import Actor
from center.cli import main
from center.config import load_config
from center.db import cases, records
from center.directory import Directory, department_of, diff, parse_toml
from center.ingest import ingest
from center.service import Center
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import Clock, make_center, make_vote, write_config
from tests.support.paths import CONFIG

EXAMPLE = CONFIG / "directory.example.toml"
VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
DAY = date(2026, 11, 27)


@pytest.fixture
def config(db_url, tmp_path):
    return write_config(tmp_path, db_url)


def directory(config) -> Directory:
    c = Center(load_config(config))
    try:
        c.migrate()
        with c.engine.connect() as conn:
            return directory_db.load(conn)
    finally:
        c.engine.dispose()


def run(config, *args, stdin="", monkeypatch=None):
    if monkeypatch is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    return main(["directory", *args, "--config", str(config)])


def test_import_shows_the_diff_asks_and_applies_only_when_confirmed(config, monkeypatch, capsys):
    assert run(config, "import", str(EXAMPLE), stdin="n\n", monkeypatch=monkeypatch) == 1
    out = capsys.readouterr().out
    assert "  + 部门 bdc 县不动产登记中心" in out and "  + 窗口 03 不动产登记窗口（所属部门 bdc）" in out
    assert "8 added, 0 changed, 0 removed." in out and "not imported." in out
    assert directory(config).entries() == []
    assert run(config, "import", str(EXAMPLE), stdin="y\n", monkeypatch=monkeypatch) == 0
    assert "imported: the directory holds 3 departments, 3 windows, 2 staff." in capsys.readouterr().out
    d = directory(config)
    assert d.windows["03"].parent == "bdc" and d.staff["1024"].name == "张三"
    assert run(config, "import", str(EXAMPLE), "--yes") == 0
    assert "nothing to change" in capsys.readouterr().out


def test_a_merging_file_adds_and_changes_and_replace_removes(config, tmp_path, capsys):
    assert run(config, "import", str(EXAMPLE), "--yes") == 0
    merge = tmp_path / "more.csv"
    merge.write_text("类型,编号,名称,所属\n窗口,05,社保窗口,ybj\n部门,bdc,县不动产登记局,\n", encoding="utf-8")
    assert run(config, "import", str(merge), "--yes") == 0
    out = capsys.readouterr().out
    assert "  ~ 部门 bdc 县不动产登记中心 → 县不动产登记局" in out and "  + 窗口 05 社保窗口" in out
    d = directory(config)
    assert set(d.windows) == {"01", "02", "03", "05"} and d.departments["bdc"].name == "县不动产登记局"
    whole = tmp_path / "whole.toml"
    whole.write_text('[[department]]\nid = "ybj"\nname = "县医疗保障局"\n\n'
                     '[[window]]\nid = "05"\nname = "社保窗口"\ndepartment = "ybj"\n', encoding="utf-8")
    assert run(config, "import", str(whole), "--replace", "--yes") == 0
    out = capsys.readouterr().out
    assert "  - 工作人员 1024 张三（所属窗口 03）" in out and "1 added" not in out
    d = directory(config)
    assert (set(d.departments), set(d.windows), set(d.staff)) == ({"ybj"}, {"05"}, set())


def test_a_bad_file_is_refused_with_every_problem_and_changes_nothing(config, tmp_path, capsys):
    bad = tmp_path / "bad.csv"
    bad.write_bytes("kind,id,name,parent\nwindow,01,户籍窗口,ga\nwindow,01,重复,ga\nstaff,9,,01\n"
                    .encode("gb18030"))
    assert run(config, "import", str(bad), "--replace", "--yes") == 2
    err = capsys.readouterr().err
    assert "bad.csv was not imported" in err and "第 3 行：窗口 01 重复（已在第 2 行定义）" in err
    assert "第 4 行：缺少工作人员名称 name" in err
    # a merge naming a department the directory lacks
    orphan = tmp_path / "orphan.toml"
    orphan.write_text('[[window]]\nid = "09"\nname = "x"\ndepartment = "nope"\n', encoding="utf-8")
    assert run(config, "import", str(orphan), "--yes") == 2
    assert "所属部门 nope 不在目录中" in capsys.readouterr().err
    assert run(config, "import", str(tmp_path / "dir.xlsx"), "--yes") == 2
    assert "must end in .toml or .csv" in capsys.readouterr().err
    assert directory(config).entries() == []


def test_export_round_trips_and_an_empty_directory_exports_a_draft_from_the_config(config, tmp_path, capsys):
    draft = tmp_path / "draft.toml"
    assert run(config, "export", "--output", str(draft)) == 0
    assert "draft from [departments]" in capsys.readouterr().err
    text = draft.read_text(encoding="utf-8")
    assert text.startswith("# A first directory made from [departments]")
    assert parse_toml(text).windows["03"].parent == "d01"            # "03" = "不动产登记"
    assert run(config, "import", str(draft), "--replace", "--yes") == 0
    assert directory(config).departments["d01"].name == "不动产登记"
    capsys.readouterr()
    assert run(config, "import", str(EXAMPLE), "--replace", "--yes") == 0
    for fmt in ("toml", "csv"):
        out = tmp_path / f"again.{fmt}"
        assert run(config, "export", "--format", fmt, "--output", str(out)) == 0
        capsys.readouterr()
        assert run(config, "import", str(out), "--replace", "--yes") == 0
        assert "nothing to change" in capsys.readouterr().out


# ------------------------------------------------------------------ statistics by department

WINDOWS = ("01", "03", "07", "08")        # 01, 03 in the example directory; 07, 08 not


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)))
    d = parse_toml(EXAMPLE.read_text(encoding="utf-8"))
    with c.engine.begin() as conn:
        directory_db.write(conn, diff(Directory(), d, replace=True))
    for w in WINDOWS:
        c.add_device(f"tab-{w}", "taojiang", w)
    yield c
    c.engine.dispose()


def fill(center) -> None:
    """Records of four windows: some bad (cases), some unrated, a staff member
    the directory lacks; two cases closed, one of them late."""
    plan = {"01": "gggb", "03": "gbbuu", "07": "gb", "08": "u"}
    for w, kinds in plan.items():
        votes = [make_vote(f"tab-{w}", i, window_id=w, at=VOTED, bad=k == "b", unrated=k == "u",
                           staff_id="9999" if i == 2 else "1024", staff_name="钱八" if i == 2 else "李明")
                 for i, k in enumerate(kinds, 1)]
        ingest(center, f"tab-{w}", votes)
    with center.engine.connect() as conn:
        ids = conn.execute(select(cases.c.id, cases.c.window_id).order_by(cases.c.id)).all()
    handler = Actor("sys-test", "supervisor")
    first_03 = next(i for i, w in ids if w == "03")
    first_07 = next(i for i, w in ids if w == "07")
    casework.act(center, first_03, "verify", handler)
    casework.act(center, first_03, "feedback", handler, feedback="已答复")
    casework.act(center, first_03, "close", handler)
    center.clock.now = datetime(2026, 12, 3, 9, 0, tzinfo=DEFAULT_TZ)      # after the deadline
    casework.act(center, first_07, "verify", handler)
    casework.act(center, first_07, "feedback", handler, feedback="迟到的答复")
    casework.act(center, first_07, "close", handler)


def recomputed(center, d: Directory) -> dict[str, tuple]:
    """By department, straight from the records and cases rows."""
    out: dict[str, Counter] = {}
    with center.engine.connect() as conn:
        for r in conn.execute(select(records)):
            c = out.setdefault(department_of(d, r.window_id).label, Counter())
            c["total"] += 1
            c["rated"] += r.result == "rated"
            c["good"] += r.result == "rated" and not r.bad
            c["bad"] += bool(r.bad)
        for r in conn.execute(select(cases)):
            c = out.setdefault(department_of(d, r.window_id).label, Counter())
            c["cases"] += 1
            c["closed"] += r.state == "closed"
            c["on_time"] += r.on_time is True
    return {k: tuple(c[f] for f in ("total", "rated", "good", "bad", "cases", "closed", "on_time"))
            for k, c in out.items()}


def test_statistics_by_department_agree_with_the_raw_rows_unknown_windows_included(center):
    fill(center)
    with center.engine.connect() as conn:
        d = directory_db.load(conn)
        rows = stats.summary(conn, DAY, DAY, "department", directory=d)
    got = {r.label: (r.total, r.rated, r.good, r.bad, r.cases, r.closed, r.on_time) for r in rows}
    assert got == recomputed(center, d)
    assert got == {"县公安局": (4, 4, 3, 1, 1, 0, 0), "县不动产登记中心": (5, 3, 1, 2, 2, 1, 1),
                   "未登记（07）": (2, 2, 1, 1, 1, 1, 0), "未登记（08）": (1, 0, 0, 0, 0, 0, 0)}
    assert [r.label for r in rows][-2:] == ["未登记（07）", "未登记（08）"]     # unknown ones last
    assert sum(r.total for r in rows) == 12                       # nothing dropped


def test_windows_and_staff_show_the_directory_names_or_unregistered(center):
    fill(center)
    with center.engine.connect() as conn:
        d = directory_db.load(conn)
        windows = {r.label: r.total for r in stats.summary(conn, DAY, DAY, "window", directory=d)}
        staff = {r.label: (r.total, r.cases) for r in stats.summary(conn, DAY, DAY, "staff", directory=d)}
    assert windows == {"01 户籍办理窗口": 4, "03 不动产登记窗口": 5, "未登记（07）": 2, "未登记（08）": 1}
    # 1024 is 张三 in the directory, whatever name the records carry; 9999 is not in it
    assert staff == {"1024 张三": (9, 2), "未登记（9999 钱八）": (3, 2)}


def test_without_a_directory_departments_are_the_configs_as_before(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)))
    try:
        c.add_device("tab-03", "taojiang", "03")
        c.add_device("tab-07", "taojiang", "07")
        ingest(c, "tab-03", [make_vote("tab-03", 1, at=VOTED)])
        ingest(c, "tab-07", [make_vote("tab-07", 1, window_id="07", at=VOTED, bad=True)])
        with c.engine.connect() as conn:
            rows = stats.summary(conn, DAY, DAY, "department", directory=directory_db.load(conn))
        assert {r.label: (r.total, r.cases) for r in rows} == {"不动产登记": (1, 0), "未分配部门": (1, 1)}
    finally:
        c.engine.dispose()
