"""Anomaly flags for supervisors (center/anomalies.py): each rule on made-up
records that do and do not trip it, at its bounds, with exactly the
records as evidence; stable keys; who may see a flag."""
from datetime import date, datetime, timedelta
from fractions import Fraction

import pytest

from center.anomalies import (
    AnomalyConfig, AnomalyError, Period, all_flags, dense_runs, disagreeing, low_participation,
    no_bad_reviews, observe, open_flags, phone_many_bad, top_bursts, visible_to, visit_disagreement,
    voted_before_finish,
)
from center.cases import Actor
from center.sampling import Visit, WindowAgreement
from hallcore.config import ConfigError, Table
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import make_vote

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=DEFAULT_TZ)
PERIOD = Period(date(2026, 11, 1), date(2026, 11, 30))
_seq = iter(range(1, 10 ** 6))


def rec(after_s=0, *, window="03", staff="1024", bad=False, unrated=False, rating=None, scale=3,
        ticket=None, finished_s=None, phone="13812345678", **over):
    """One observed record `after_s` seconds after T0."""
    seq = next(_seq)
    at = T0 + timedelta(seconds=after_s)
    kw = dict(over)
    if rating is not None:
        kw.update(rating=rating, scale_size=scale)
    if ticket is not None:
        kw["ticket"] = ticket
    if finished_s is not None:
        kw["finished_at"] = T0 + timedelta(seconds=finished_s)
    return observe(make_vote("tj-03", seq, at=at, bad=bad, unrated=unrated, window_id=window,
                             staff_id=staff, phone=phone, **kw))


def ids(recs):
    return tuple(sorted(r.record_id for r in recs))


# ------------------------------------------------------------------ (a) bursts of top ratings

def test_five_top_ratings_within_120_seconds_are_a_burst():
    burst = [rec(s) for s in (0, 30, 60, 90, 120)]
    flags = top_bursts(burst + [rec(1000)])
    assert len(flags) == 1
    f = flags[0]
    assert f.kind == "top_burst" and f.window_id == "03" and f.evidence == ids(burst)
    assert f.facts == {"visits": 5, "seconds": 120}
    assert f.staff_ids == {"1024"}


def test_a_burst_one_second_too_long_or_one_rating_short_is_not():
    assert top_bursts([rec(s) for s in (0, 30, 60, 90, 121)]) == []
    assert top_bursts([rec(s) for s in (0, 30, 60, 90)]) == []


def test_overlapping_bursts_are_one_flag_with_every_record():
    run = [rec(s) for s in (0, 30, 60, 90, 120, 150)]
    flags = top_bursts(run + [rec(400)])
    assert [f.evidence for f in flags] == [ids(run)]


def test_separate_bursts_are_separate_flags():
    a = [rec(s) for s in range(0, 50, 10)]
    b = [rec(s) for s in range(5000, 5050, 10)]
    assert [f.evidence for f in top_bursts(a + b)] == [ids(a), ids(b)]


def test_the_matters_of_one_ticket_count_as_one_visit():
    """A ticket's matters are rated seconds apart by design: that is no burst."""
    one = [rec(s, ticket="A001", matter_index=i + 1, matter_count=4) for i, s in enumerate((0, 5, 10, 15))]
    assert top_bursts(one + [rec(20)]) == []
    assert len(top_bursts(one + [rec(20), rec(25), rec(30), rec(35)])) == 1


def test_only_the_top_level_of_each_scale_counts_and_windows_stay_apart():
    assert top_bursts([rec(s, rating="basically_satisfied") for s in range(0, 50, 10)]) == []
    assert top_bursts([rec(s, rating="satisfied", scale=5) for s in range(0, 50, 10)]) == []
    assert len(top_bursts([rec(s, rating="very_satisfied", scale=5) for s in range(0, 50, 10)])) == 1
    assert top_bursts([rec(s, window=w) for s, w in zip(range(0, 50, 10), "12121")]) == []
    assert top_bursts([rec(s, bad=True) for s in range(0, 50, 10)]) == []


def test_thresholds_come_from_the_config():
    cfg = AnomalyConfig(burst_count=3, burst_seconds=10)
    assert len(top_bursts([rec(s) for s in (0, 5, 10)], cfg)) == 1
    assert top_bursts([rec(s) for s in (0, 5, 11)], cfg) == []


def test_dense_runs_counts_visits_in_every_span():
    rows = [rec(s) for s in (0, 1, 2, 100, 101, 102, 103)]
    runs = dense_runs(rows, min_visits=3, span=timedelta(seconds=2))
    assert [ids(r) for r in runs] == [ids(rows[:3]), ids(rows[3:])]


# ------------------------------------------------------------------ (b) voted before the finish

def test_a_rating_before_the_finish_beyond_the_tolerance_is_flagged():
    early = rec(0, finished_s=61)
    flags = voted_before_finish([early, rec(0, finished_s=60), rec(100, finished_s=50), rec(0)])
    assert [(f.kind, f.evidence, f.facts["max_early_s"]) for f in flags] == [
        ("voted_before_finish", (early.record_id,), 61)]


def test_early_ratings_are_one_flag_per_window_and_day():
    a, b = rec(0, finished_s=500), rec(10, finished_s=900)
    c = rec(86400, finished_s=86400 + 300)
    d = rec(0, window="04", finished_s=400)
    flags = voted_before_finish([a, b, c, d])
    assert [(f.window_id, f.facts["day"], f.evidence) for f in flags] == [
        ("03", "2026-11-27", ids([a, b])), ("03", "2026-11-28", ids([c])), ("04", "2026-11-27", ids([d]))]
    assert len({f.key for f in flags}) == 3


def test_zero_tolerance_flags_any_earlier_rating():
    cfg = AnomalyConfig(finish_tolerance_s=0)
    assert len(voted_before_finish([rec(0, finished_s=1)], cfg)) == 1
    assert voted_before_finish([rec(0, finished_s=0)], cfg) == []


# ------------------------------------------------------------------ (c) busy and never a 差评

def quiet_cfg(n=10):
    return AnomalyConfig(quiet_min_rated=n)


def test_a_busy_window_without_a_bad_review_is_flagged_with_its_rated_records():
    rated = [rec(i * 60) for i in range(10)]
    unrated = [rec(5, unrated=True)]
    flags = no_bad_reviews(rated + unrated + [rec(0, window="04")], PERIOD, quiet_cfg())
    assert [(f.window_id, f.evidence, f.facts["rated"]) for f in flags] == [("03", ids(rated), 10)]
    assert flags[0].period == PERIOD


def test_one_bad_review_or_one_rating_short_or_outside_the_period_is_not():
    nine = [rec(i * 60) for i in range(9)]
    assert no_bad_reviews(nine, PERIOD, quiet_cfg()) == []
    assert no_bad_reviews(nine + [rec(0, bad=True)], PERIOD, quiet_cfg()) == []
    assert no_bad_reviews(nine + [rec(0, unrated=True)], PERIOD, quiet_cfg()) == []
    outside = rec(-(27 * 86400))                         # 2026-10-31
    assert no_bad_reviews(nine + [outside], PERIOD, quiet_cfg()) == []
    assert len(no_bad_reviews(nine + [outside], Period(date(2026, 10, 31), date(2026, 11, 30)), quiet_cfg())) == 1


def test_the_default_is_300_rated():
    rows = [rec(i) for i in range(300)]
    assert len(no_bad_reviews(rows, PERIOD)) == 1
    assert no_bad_reviews(rows[:299], PERIOD) == []


# ------------------------------------------------------------------ (d) one number, many 差评

DAY = 86400


def test_three_bad_reviews_from_one_number_within_30_days_are_flagged():
    bad = [rec(0, bad=True), rec(10 * DAY, bad=True, window="05", staff="2048"), rec(30 * DAY, bad=True)]
    other = rec(DAY, bad=True, phone="13900000000")
    flags = phone_many_bad(bad + [other, rec(0)])
    assert len(flags) == 1
    f = flags[0]
    assert f.evidence == ids(bad) and f.facts["visits"] == 3 and f.facts["windows"] == ["03", "05"]
    assert "13812345678" not in f.subject + f.summary and "138****5678" in f.summary
    assert f.staff_ids == {"1024", "2048"}


def test_one_second_past_30_days_or_two_reviews_are_not():
    assert phone_many_bad([rec(0, bad=True), rec(10 * DAY, bad=True), rec(30 * DAY + 1, bad=True)]) == []
    assert phone_many_bad([rec(0, bad=True), rec(DAY, bad=True)]) == []
    assert phone_many_bad([rec(i, bad=True, phone=None) for i in range(5)]) == []


def test_several_bad_matters_of_one_visit_count_once():
    one = [rec(i, bad=True, ticket="A007", matter_index=i + 1, matter_count=3) for i in range(3)]
    assert phone_many_bad(one) == []


# ------------------------------------------------------------------ (e) 参评率 far below peers

def staff_rows(staff, rated, total):
    return [rec(i, staff=staff, unrated=i >= rated) for i in range(total)]


def peers():
    return staff_rows("A", 45, 50) + staff_rows("B", 45, 50) + staff_rows("C", 40, 50)


def test_a_staff_member_below_the_median_minus_the_gap_is_flagged_with_all_their_records():
    d = staff_rows("D", 64, 100)                   # 0.64 < 0.85 − 0.20
    flags = low_participation(peers() + d, PERIOD)
    assert [(f.subject, f.evidence, f.staff_ids) for f in flags] == [("staff:D", ids(d), {"D"})]
    assert flags[0].facts["median"] == pytest.approx(0.85) and flags[0].facts["peers"] == 4


def test_exactly_on_the_bound_is_not_flagged():
    assert low_participation(peers() + staff_rows("D", 65, 100), PERIOD) == []


def test_low_volume_staff_are_neither_judged_nor_peers():
    few = staff_rows("E", 0, 49)
    assert low_participation(peers() + few, PERIOD) == []                 # E has too few records
    assert low_participation(staff_rows("A", 45, 50) + staff_rows("D", 10, 50) + few, PERIOD) == []
    cfg = AnomalyConfig(participation_min_peers=2)
    assert [f.subject for f in low_participation(staff_rows("A", 45, 50) + staff_rows("D", 10, 50), PERIOD, cfg)] \
        == ["staff:D"]


def test_records_without_a_staff_id_or_outside_the_period_are_not_counted():
    d = staff_rows("D", 64, 100)
    blank = [rec(i, staff="", unrated=True) for i in range(100)]
    before = [rec(-30 * DAY, staff="A", unrated=True) for _ in range(100)]
    assert [f.evidence for f in low_participation(peers() + d + blank + before, PERIOD)] == [ids(d)]


# ------------------------------------------------------------------ (f) return visits disagree

def visit(window, i, tablet="satisfied", phone="satisfied", reached=True):
    return Visit(f"{window}-{i}", window, 3, tablet, reached, phone if reached else None)


def test_a_window_whose_visits_disagree_above_the_threshold_is_flagged_with_those_records():
    rows = [visit("01", i) for i in range(3)] + [visit("01", 3, phone="dissatisfied"),
                                                 visit("01", 4, tablet="dissatisfied", phone="satisfied"),
                                                 visit("01", 5, reached=False)]
    flags = visit_disagreement(rows, staff_of={"01-3": "1024"})
    assert [(f.window_id, f.evidence) for f in flags] == [("01", ("01-3", "01-4"))]
    assert flags[0].facts == {"rated": 5, "disagree": 2, "induced": 1, "share": 0.4}
    assert flags[0].staff_ids == {"1024"}


def test_exactly_at_the_threshold_or_too_few_visits_is_not():
    at_bound = [visit("01", i) for i in range(4)] + [visit("01", 4, phone="dissatisfied")]   # 1/5
    assert visit_disagreement(at_bound) == []
    few = [visit("02", i, phone="dissatisfied") for i in range(4)]
    assert visit_disagreement(few) == []
    assert len(visit_disagreement(few + [visit("02", 9, reached=True)])) == 1


def test_disagreeing_reads_window_agreement_numbers():
    assert disagreeing(WindowAgreement("01", rated=10, disagree=3))
    assert not disagreeing(WindowAgreement("01", rated=10, disagree=2))
    assert not disagreeing(WindowAgreement("01", rated=4, disagree=4))


# ------------------------------------------------------------------ keys and dismissal

def test_a_key_is_stable_for_the_same_evidence_and_changes_with_it():
    burst = [rec(s) for s in range(0, 50, 10)]
    k = top_bursts(burst)[0].key
    assert top_bursts(list(reversed(burst)))[0].key == k
    assert top_bursts(burst + [rec(55)])[0].key != k
    assert k.startswith("top_burst:")


def test_a_dismissed_flag_stays_dismissed_until_its_evidence_changes():
    burst = [rec(s) for s in range(0, 50, 10)]
    first = top_bursts(burst)
    assert open_flags(top_bursts(burst), [first[0].key]) == []
    again = top_bursts(burst + [rec(55)])
    assert open_flags(again, [first[0].key]) == again


def test_all_flags_runs_every_rule():
    rows = [rec(s) for s in range(0, 50, 10)] + [rec(0, finished_s=500)]
    visits = [visit("01", i, phone="dissatisfied") for i in range(5)]
    kinds = [f.kind for f in all_flags(rows, PERIOD, AnomalyConfig(quiet_min_rated=6), visits=visits)]
    assert kinds == ["top_burst", "voted_before_finish", "no_bad_reviews", "visit_disagreement"]


# ------------------------------------------------------------------ who may see a flag

def test_flags_are_for_supervisors_and_never_for_the_staff_they_name():
    flag = top_bursts([rec(s) for s in range(0, 50, 10)])[0]
    assert visible_to(flag, Actor("zhang", "supervisor"))
    assert not visible_to(flag, Actor("li", "handler", "03"))
    assert not visible_to(flag, Actor("li", "handler", "04"))
    assert not visible_to(flag, Actor("1024", "supervisor"))          # the user is the staff member
    assert not visible_to(flag, Actor("wang", "supervisor", staff_id="1024"))   # users.staff_id
    assert visible_to(flag, Actor("wang", "supervisor", staff_id="2048"))
    assert not visible_to(flag, Actor("system", "system"))


# ------------------------------------------------------------------ inputs and config

def test_observe_reads_a_stored_record_and_refuses_an_unusable_one():
    body = make_vote("tj-03", 1, at=T0, bad=True)
    o = observe(body)
    assert (o.bad, o.top, o.contact_phone, o.voted_at) == (True, False, "13812345678", T0)
    with pytest.raises(AnomalyError, match="prompted_at"):
        observe({**body, "prompted_at": "yesterday"})
    with pytest.raises(AnomalyError, match="voted_at"):
        observe({**body, "voted_at": None})


def test_periods_are_fixed_blocks_so_a_judged_block_does_not_move():
    week = Period.block(date(2026, 11, 27), 7)
    assert (week.first, week.last) == (date(2026, 11, 23), date(2026, 11, 29))   # Monday–Sunday
    assert Period.last_complete(date(2026, 11, 27), 7) == Period(date(2026, 11, 16), date(2026, 11, 22))
    assert Period.last_complete(date(2026, 11, 23), 7).last == date(2026, 11, 22)
    block = Period.block(date(2026, 11, 27), 30)
    assert Period.block(block.first, 30) == Period.block(block.last, 30) == block
    assert (block.last - block.first).days == 29
    with pytest.raises(AnomalyError):
        Period(date(2026, 11, 2), date(2026, 11, 1))


def test_config_from_the_anomalies_table():
    assert AnomalyConfig.from_table(Table({}, "anomalies")) == AnomalyConfig()
    cfg = AnomalyConfig.from_table(Table({"burst_count": 8, "participation_gap": 0.15}, "anomalies"))
    assert cfg.burst_count == 8 and cfg.participation_gap == Fraction(3, 20)
    with pytest.raises(ConfigError, match=r"anomalies\.burst_count: 1 is out of range"):
        AnomalyConfig.from_table(Table({"burst_count": 1}, "anomalies"))
    with pytest.raises(ConfigError, match=r"anomalies\.visit_max_disagreement"):
        AnomalyConfig.from_table(Table({"visit_max_disagreement": 1.5}, "anomalies"))
    with pytest.raises(ConfigError, match=r"anomalies\.burst_cout: is not a known key"):
        AnomalyConfig.from_table(Table({"burst_cout": 5}, "anomalies"))
