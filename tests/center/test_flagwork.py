"""The anomaly flag scan in the database (center/flagwork.py), on SQLite and
PostgreSQL: each of the six rules tripped and not tripped by made-up
records stored through ingest, end to end into anomaly_flags; a second
scan raises nothing new, a dismissed flag is never raised again, a run that
grows supersedes its open flag, unusable records are counted and logged,
today is never judged, and the worker scans at its interval."""
import json
import logging
import threading
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, insert, select

from center import flagwork, samplework
from center.anomalies import AnomalyConfig, Period
from center.cases import Actor
from center.db import anomaly_flags, records
from center.ingest import ingest
from hallcore.hallclock import DEFAULT_TZ, to_db
from tests.support.center import Clock, make_center, make_vote

NOW = datetime(2026, 12, 9, 10, 0, tzinfo=DEFAULT_TZ)      # a Wednesday
PERIOD = Period(date(2026, 11, 30), date(2026, 12, 6))     # the last ended 7-day block
IN_PERIOD = datetime(2026, 12, 2, 9, 0, tzinfo=DEFAULT_TZ)
YESTERDAY = datetime(2026, 12, 8, 9, 0, tzinfo=DEFAULT_TZ)
RULES = AnomalyConfig(period_days=7, quiet_min_rated=20, participation_min_records=10,
                      participation_min_peers=3, visit_min_rated=5)
CHEN = Actor("chen", "supervisor")


class Hall:
    """Tablets of windows 03, 05 and 07 storing made-up records through ingest."""

    def __init__(self, center):
        self.center = center
        self.seq = {}
        for w in ("03", "05", "07"):
            center.add_device(f"tab-{w}", "taojiang", w)
            self.seq[w] = 0

    def votes(self, window="03", times=(), **kw):
        out = []
        for at in times:
            self.seq[window] += 1
            out.append(make_vote(f"tab-{window}", self.seq[window], at=at, window_id=window, **kw))
        answers = ingest(self.center, f"tab-{window}", out)
        assert {a["status"] for a in answers} == {"stored"}, answers
        return sorted(v["id"] for v in out)


def every(start, n, *, minutes=10):
    return [start + timedelta(minutes=minutes * i) for i in range(n)]


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW), anomalies=RULES)
    yield c
    c.engine.dispose()


@pytest.fixture
def hall(center):
    return Hall(center)


def stored(center, kind=None):
    q = select(anomaly_flags).order_by(anomaly_flags.c.id)
    if kind:
        q = q.where(anomaly_flags.c.kind == kind)
    with center.engine.connect() as conn:
        return conn.execute(q).all()


def kinds(result):
    return sorted(f.kind for f in result.raised)


# ------------------------------------------------------------------ each rule, through the scan

def test_a_burst_of_top_ratings_is_raised_with_its_records(center, hall):
    burst = hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in (0, 30, 60, 90, 120)])
    hall.votes("03", every(YESTERDAY + timedelta(hours=2), 5))
    r = flagwork.scan(center)
    assert kinds(r) == ["top_burst"] and r.records == 10 and r.unusable == 0
    (row,) = stored(center)
    assert (row.kind, row.subject, row.window_id, row.state) == ("top_burst", "window:03", "03", "open")
    assert row.evidence == burst and row.staff_ids == ["1024"] and row.key == r.raised[0].key
    assert row.period_first is None and row.first_at == to_db(YESTERDAY)
    assert row.last_at == to_db(YESTERDAY + timedelta(seconds=120))
    assert "5 位群众在 120 秒内均给出最高评价" in row.summary


def test_top_ratings_one_second_too_spread_are_not_a_burst(center, hall):
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in (0, 30, 60, 90, 121)])
    assert flagwork.scan(center).raised == [] and stored(center) == []


def test_ratings_before_the_tickets_finish_are_raised_within_the_tolerance_not(center, hall):
    early = hall.votes("05", [YESTERDAY], rating="basically_satisfied",
                       finished_at=YESTERDAY + timedelta(minutes=5))
    hall.votes("05", [YESTERDAY + timedelta(hours=1)], rating="basically_satisfied",
               finished_at=YESTERDAY + timedelta(hours=1, seconds=60))        # on the tolerance: fine
    r = flagwork.scan(center)
    assert kinds(r) == ["voted_before_finish"]
    (row,) = stored(center)
    assert row.subject == "window:05:2026-12-08" and row.evidence == early
    assert row.facts == {"day": "2026-12-08", "count": 1, "max_early_s": 300}


def test_a_busy_window_without_a_bad_review_in_the_period_is_raised(center, hall):
    quiet = hall.votes("07", every(IN_PERIOD, 20))
    r = flagwork.scan(center)
    assert kinds(r) == ["no_bad_reviews"]
    (row,) = stored(center)
    assert (row.subject, row.period_first, row.period_last) == ("window:07", PERIOD.first, PERIOD.last)
    assert row.evidence == quiet and row.facts == {"rated": 20}


@pytest.mark.parametrize("case", ["one_bad", "too_few", "outside_the_period"])
def test_a_window_with_a_bad_review_or_too_few_ratings_is_not_quiet(center, hall, case):
    if case == "one_bad":
        hall.votes("07", every(IN_PERIOD, 19))
        hall.votes("07", [IN_PERIOD + timedelta(hours=5)], bad=True)
    elif case == "too_few":
        hall.votes("07", every(IN_PERIOD, 19))
    else:                                    # 20, but some after the period ended
        hall.votes("07", every(datetime(2026, 12, 6, 22, 30, tzinfo=DEFAULT_TZ), 20))   # 9 in it
    assert [f for f in flagwork.scan(center).raised if f.kind == "no_bad_reviews"] == []


def test_one_number_on_three_bad_reviews_is_raised_masked(center, hall):
    bad = (hall.votes("03", [YESTERDAY], bad=True, phone="13912345678")
           + hall.votes("05", [IN_PERIOD, IN_PERIOD + timedelta(days=1)], bad=True, phone="13912345678"))
    hall.votes("03", [YESTERDAY + timedelta(hours=1)], bad=True, phone="13800000000")
    r = flagwork.scan(center)
    assert kinds(r) == ["phone_many_bad"]
    (row,) = stored(center)
    assert row.evidence == sorted(bad) and row.subject.startswith("phone:")
    assert "13912345678" not in json.dumps([row.subject, row.summary, row.facts], ensure_ascii=False)
    assert "139****5678" in row.summary and row.facts["windows"] == ["03", "05"]


def test_two_bad_reviews_with_one_number_are_not_raised(center, hall):
    hall.votes("03", [YESTERDAY, IN_PERIOD], bad=True, phone="13912345678")
    assert flagwork.scan(center).raised == []


def _staff(hall, rated_by_d):
    """Three peers rating every time at window 03 (one 差评, so it is no quiet
    window), and staff 1004 at window 05 rated `rated_by_d` times in 10."""
    for s in ("1001", "1002", "1003"):
        hall.votes("03", every(IN_PERIOD, 10, minutes=3), staff_id=s, rating="basically_satisfied")
    hall.votes("03", [IN_PERIOD + timedelta(hours=5)], staff_id="1001", bad=True)
    d = hall.votes("05", every(IN_PERIOD, rated_by_d, minutes=3), staff_id="1004",
                   rating="basically_satisfied")
    return d + hall.votes("05", every(IN_PERIOD + timedelta(hours=3), 10 - rated_by_d), staff_id="1004",
                          unrated=True)


def test_a_staff_member_far_below_the_peers_participation_is_raised(center, hall):
    theirs = _staff(hall, 5)                  # 50 % against a median of 100 %
    r = flagwork.scan(center)
    assert kinds(r) == ["low_participation"]
    (row,) = stored(center)
    assert (row.subject, row.staff_ids, row.evidence) == ("staff:1004", ["1004"], sorted(theirs))
    assert row.facts["rate"] == 0.5 and row.facts["peers"] == 4


def test_a_staff_member_on_the_gap_is_not_raised(center, hall):
    _staff(hall, 8)                           # 80 % = median 100 % − 20 points: on the bound
    assert flagwork.scan(center).raised == []


def _visits(center, hall, disagreeing):
    ids = hall.votes("03", every(IN_PERIOD, 5, minutes=30), rating="satisfied")
    sid = samplework.make_draw(center, start=PERIOD.first, end=PERIOD.last, drawn_by="chen", share="1",
                               seed=7)
    with center.engine.connect() as conn:
        items = sorted(samplework.call_list(conn, sid), key=lambda c: c["record_id"])
    for n, item in enumerate(items):
        samplework.record_visit(center, item["item_id"], CHEN, reached=True,
                                phone_rating="dissatisfied" if n < disagreeing else "satisfied")
    return ids[:disagreeing]


def test_return_visits_disagreeing_with_the_tablet_are_raised(center, hall):
    against = _visits(center, hall, 2)       # 2 of 5 = 40 % > 20 %
    r = flagwork.scan(center)
    assert kinds(r) == ["visit_disagreement"]
    (row,) = stored(center)
    assert (row.subject, row.evidence, row.staff_ids) == ("window:03", against, ["1024"])
    assert row.facts == {"rated": 5, "disagree": 2, "induced": 2, "share": 0.4}


def test_return_visits_disagreeing_on_the_threshold_are_not_raised(center, hall):
    _visits(center, hall, 1)                 # 1 of 5 = 20 %: not above
    assert flagwork.scan(center).raised == []


# ------------------------------------------------------------------ storing

def test_a_second_scan_raises_nothing_new(center, hall):
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])
    hall.votes("07", every(IN_PERIOD, 20))
    first = flagwork.scan(center)
    assert kinds(first) == ["no_bad_reviews", "top_burst"]
    again = flagwork.scan(center)
    assert (again.raised, again.tripped, again.known) == ([], 2, 2)
    assert len(stored(center)) == 2


def test_a_dismissed_flag_is_never_raised_again(center, hall, caplog):
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])
    (f,) = flagwork.scan(center).raised
    (row,) = stored(center)
    caplog.set_level(logging.INFO, logger="center.flags")
    flagwork.dismiss(center, row.id, CHEN, " 经调取录像，系群众自行评价 ")
    assert f"flag {row.id} {f.key} (top_burst window:03) dismissed by chen" in caplog.text
    for _ in range(2):
        assert flagwork.scan(center).raised == []
    (row,) = stored(center)
    assert (row.state, row.dismissed_by, row.note) == ("dismissed", "chen", "经调取录像，系群众自行评价")
    assert row.dismissed_at == to_db(NOW)


def test_dismissing_needs_a_note_and_an_open_flag(center, hall):
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])
    flagwork.scan(center)
    (row,) = stored(center)
    with pytest.raises(flagwork.FlagError, match="请填写排除理由"):
        flagwork.dismiss(center, row.id, CHEN, "  ")
    with pytest.raises(flagwork.FlagError, match="过长"):
        flagwork.dismiss(center, row.id, CHEN, "字" * (flagwork.MAX_NOTE + 1))
    flagwork.dismiss(center, row.id, CHEN, "已核实")
    with pytest.raises(flagwork.FlagError, match="已排除"):
        flagwork.dismiss(center, row.id, CHEN, "再次")
    with pytest.raises(flagwork.FlagError, match="没有这个标记"):
        flagwork.dismiss(center, row.id + 100, CHEN, "无")


def test_the_staff_member_a_flag_concerns_cannot_see_or_dismiss_it(center, hall):
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])   # staff 1024
    flagwork.scan(center)
    (row,) = stored(center)
    for me in (Actor("1024", "supervisor"), Actor("li", "supervisor", staff_id="1024"),
               Actor("wang", "handler", "03")):
        with center.engine.connect() as conn:
            assert flagwork.flag_rows(conn, me) == [] and flagwork.flag_row(conn, row.id, me) is None
        with pytest.raises(flagwork.FlagError, match="没有这个标记"):
            flagwork.dismiss(center, row.id, me, "与我无关")
    with center.engine.connect() as conn:
        assert [r.id for r in flagwork.flag_rows(conn, CHEN)] == [row.id]


def test_a_run_that_grows_supersedes_its_open_flag_and_not_a_dismissed_one(center, hall):
    first = hall.votes("03", [IN_PERIOD, IN_PERIOD + timedelta(days=1), IN_PERIOD + timedelta(days=2)],
                       bad=True, phone="13912345678")
    assert kinds(flagwork.scan(center)) == ["phone_many_bad"]
    more = hall.votes("03", [YESTERDAY], bad=True, phone="13912345678")          # a fourth, late upload
    r = flagwork.scan(center)
    assert kinds(r) == ["phone_many_bad"] and r.superseded == 1
    old, new = stored(center)
    assert (old.state, old.superseded_by, old.evidence) == ("superseded", new.key, first)
    assert (new.state, new.evidence) == ("open", sorted(first + more))
    flagwork.dismiss(center, new.id, CHEN, "群众多次来电反映同一问题，属实")
    hall.votes("05", [YESTERDAY + timedelta(hours=2)], bad=True, phone="13912345678")
    r = flagwork.scan(center)
    assert kinds(r) == ["phone_many_bad"] and r.superseded == 0
    assert [x.state for x in stored(center)] == ["superseded", "dismissed", "open"]


def test_a_shorter_read_of_a_stored_run_is_no_news(center, hall):
    """A week later the scan reads from the next block: the part of the run it
    still sees lies within the stored flag and is not raised again."""
    hall.votes("03", [datetime(2026, 12, 5, 9, 0, tzinfo=DEFAULT_TZ), datetime(2026, 12, 7, 9, 0, tzinfo=DEFAULT_TZ),
                      YESTERDAY, YESTERDAY + timedelta(hours=1)], bad=True, phone="13912345678")
    assert kinds(flagwork.scan(center)) == ["phone_many_bad"]
    center.clock.advance(days=6)             # reads 12-07..12-14: three of the four
    r = flagwork.scan(center)
    assert (r.first_day, r.tripped, r.raised) == (date(2026, 12, 7), 1, [])
    assert len(stored(center)) == 1


def test_today_is_not_judged_until_it_has_ended(center, hall):
    hall.votes("03", [NOW - timedelta(minutes=30) + timedelta(seconds=s) for s in range(0, 50, 10)])
    assert flagwork.scan(center).raised == []
    center.clock.advance(days=1)
    assert kinds(flagwork.scan(center)) == ["top_burst"]


def test_an_unusable_record_is_counted_and_logged_and_the_scan_goes_on(center, hall, caplog):
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])
    broken = make_vote("tab-03", 99, at=YESTERDAY)
    del broken["prompted_at"]
    with center.engine.begin() as conn:
        conn.execute(insert(records).values(
            id=broken["id"], device_id="tab-03", seq=99, region_code="430922", hall_id="taojiang",
            window_id="03", department="不动产登记", staff_id="1024", staff_name="李明", matter_code="M1",
            matter_name="居民身份证换领", result="rated", satisfaction_code=2, bad=False, channel="hall_tablet",
            day=YESTERDAY.date(), at=to_db(YESTERDAY), received_at=to_db(NOW), body=broken))
    caplog.set_level(logging.INFO, logger="center.flags")
    r = flagwork.scan(center)
    assert (r.records, r.unusable, kinds(r)) == (6, 1, ["top_burst"])
    assert f"record {broken['id']} left out" in caplog.text
    assert "1 of 6 records left out as unusable" in caplog.text


def test_two_scans_at_once_store_each_flag_once(center, hall, db_url, tmp_path):
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])
    hall.votes("07", every(IN_PERIOD, 20))
    other = make_center(db_url, tmp_path / "other", clock=Clock(NOW), anomalies=RULES)
    start = threading.Barrier(2)
    results, errors = [], []

    def run(c):
        try:
            start.wait(10)
            results.append(flagwork.scan(c))
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(c,)) for c in (center, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    other.engine.dispose()
    assert errors == [] and len(results) == 2
    assert sum(len(r.raised) for r in results) == 2, [(f.key, r.superseded) for r in results for f in r.raised]
    with center.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(anomaly_flags)).scalar_one() == 2


def test_the_worker_scans_at_its_interval_and_not_when_off(center, hall, tmp_path, db_url):
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])
    assert center.cfg.flag_scan_s == 3600
    first = flagwork.scan_when_due(center)
    assert first is not None and kinds(first) == ["top_burst"]
    center.clock.advance(seconds=3599)
    assert flagwork.scan_when_due(center) is None
    center.clock.advance(seconds=1)
    assert flagwork.scan_when_due(center) is not None
    off = make_center(db_url, tmp_path / "off", clock=Clock(NOW), anomalies=RULES, flag_scan_s=0)
    try:
        assert flagwork.scan_when_due(off) is None
    finally:
        off.engine.dispose()


def test_a_failing_scan_is_logged_and_the_worker_goes_on(center, caplog, monkeypatch):
    def broken(_center):
        raise RuntimeError("database went away")
    monkeypatch.setattr(flagwork, "scan", broken)
    assert flagwork.scan_when_due(center) is None
    assert "flag scan failed; will retry in 3600 s" in caplog.text
