"""The assessment report read from the database (center/assessment_db.py,
stats.channel_counts, stats.distribution, samplework.unit_agreement), on
SQLite and PostgreSQL, over a hall filled through the real paths
(tests/support/assessment.py); the channel counts and the agreement are
recomputed here from the raw rows."""
from collections import Counter

import pytest
from sqlalchemy import select

from center import assessment_db, stats
from center.db import records
from tests.support.assessment import END, EXPECTED, NOW, START, fill
from tests.support.center import Clock, make_center


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW))
    fill(c)
    yield c
    c.engine.dispose()


def load(center, by, scope=None):
    with center.engine.connect() as conn:
        return assessment_db.load(conn, START, END, by, scope)


def by_label(rep):
    return {u.label: u for u in rep.units}


def test_each_window_line_says_what_happened_there(center):
    units = by_label(load(center, "window"))
    labels = {"03": "03 不动产登记窗口", "04": "04 不动产查询窗口", "05": "05 医保窗口", "07": "未登记（07）"}
    assert set(units) == set(labels.values())
    for window, want in EXPECTED.items():
        u = units[labels[window]]
        got = {k: getattr(u.row, k) for k in want if k != "channels"}
        got["bad"] = u.row.bad - u.row.excluded
        assert got == {k: v for k, v in want.items() if k != "channels"}, window
    assert units["05 医保窗口"].channels == EXPECTED["05"]["channels"]
    assert units["03 不动产登记窗口"].channels == {"hall_tablet": 8}
    assert units["03 不动产登记窗口"].on_time_rate == 1.0 and units["04 不动产查询窗口"].on_time_rate == 0.0
    assert units["05 医保窗口"].row.rectification_rate == 1.0


def test_ranks_by_good_rate_then_volume_with_ties(center):
    rep = load(center, "window")
    # 07: 2/2; 03: 6/7 (one bad review upheld on appeal); 04 and 05: 4/5 each over 5: a shared 3rd
    assert [(u.label, u.rank) for u in rep.units] == [
        ("未登记（07）", 1), ("03 不动产登记窗口", 2), ("04 不动产查询窗口", 3), ("05 医保窗口", 3)]
    staff = load(center, "staff")
    assert [(u.label, u.rank) for u in staff.units] == [
        ("未登记（0701 孙丽）", 1), ("0302 周敏", 2), ("0301 李明", 3), ("0401 王芳", 4), ("0501 赵强", 4)]


def test_departments_come_from_the_directory_and_add_up(center):
    rep = load(center, "department")
    units = by_label(rep)
    assert [(u.label, u.rank) for u in rep.units] == [
        ("未登记（07）", 1), ("县不动产登记中心", 2), ("县医疗保障局", 3)]
    bdc = units["县不动产登记中心"]
    assert (bdc.row.total, bdc.row.good, bdc.row.scored, bdc.row.cases, bdc.row.standing) == (14, 10, 12, 3, 2)
    assert bdc.agreement.rated == 4 and bdc.agreement.agree == 3 and bdc.agreement.rate == 0.75
    assert units["县医疗保障局"].agreement.visits == 3 and units["县医疗保障局"].agreement.rate == 1.0
    assert rep.total.row.total == sum(u.row.total for u in rep.units) == 21
    assert rep.channels == ("pc", "mobile", "hall_tablet")


def test_channel_counts_and_agreement_equal_the_raw_rows(center):
    with center.engine.connect() as conn:
        raw = Counter((r.window_id, r.body["channel"]) for r in conn.execute(
            select(records.c.window_id, records.c.body).where(records.c.result == "rated")))
        stored = {r.id: r.channel for r in conn.execute(select(records.c.id, records.c.channel))}
        bodies = {r.id: r.body["channel"] for r in conn.execute(select(records.c.id, records.c.body))}
    assert stored == bodies                                  # the column is the body's channel
    rep = load(center, "window")
    got = Counter({(u.row.key[0], ch): n for u in rep.units for ch, n in u.channels.items()})
    assert got == raw
    per_staff = {u.label: u.agreement for u in load(center, "staff").units}
    assert (per_staff["0301 李明"].rated, per_staff["0301 李明"].agree, per_staff["0301 李明"].induced) == (4, 3, 1)
    assert per_staff["0302 周敏"].rated == 0
    assert per_staff["0501 赵强"].visits == 3 and per_staff["0501 赵强"].reached == 2


def test_a_handler_sees_only_their_windows_line(center):
    rep = load(center, "department", scope="03")
    (u,) = rep.units
    assert (u.label, u.rank, u.row.total, u.row.good) == ("县不动产登记中心", 1, 9, 6)
    assert rep.total.row.total == 9 and rep.total.agreement.rated == 4


def test_the_rebuilt_rollup_gives_the_same_report_and_distribution(center):
    def snapshot():
        rep = load(center, "staff")
        with center.engine.connect() as conn:
            dist = stats.distribution(conn, START, END)
        return [(u.label, u.rank, vars(u.row), u.channels) for u in rep.units], dist
    before = snapshot()
    stats.rebuild_daily_stats(center.engine)
    assert snapshot() == before
    # 16 good (满意 15, 基本满意 1), 3 bad reviews left after the upheld appeal, 1 unrated
    assert before[1] == [("满意", 15), ("基本满意", 1), ("不满意", 3), ("未评价", 1), ("申诉成立（不计分）", 1)]
