"""Deadline alerts for unsent bad reviews (agent/alerts.py)."""
from datetime import datetime, timedelta

from hallcore.hallclock import DEFAULT_TZ
from agent.alerts import OVERDUE, WARNING, deadline_alerts
from tests.support.outbox_records import vote

VOTE = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)          # Friday
DUE = datetime(2026, 12, 1, 17, 30, tzinfo=DEFAULT_TZ)           # Tuesday 17:30
BEFORE = timedelta(hours=4)


def bad():
    return vote(0, bad=True, prompted_at=VOTE, voted_at=VOTE, due_at=DUE)


def test_no_alert_while_the_deadline_is_far():
    assert deadline_alerts([(bad(), "pending")], DUE - BEFORE - timedelta(seconds=1), BEFORE) == []


def test_warning_inside_the_alert_window_then_overdue_after_deadline():
    rec = bad()
    [a] = deadline_alerts([(rec, "pending")], DUE - BEFORE, BEFORE)
    assert (a.record_id, a.level, a.where) == (rec["id"], WARNING, "pending")
    [b] = deadline_alerts([(rec, "pending")], DUE + timedelta(minutes=1), BEFORE, {a.key})
    assert b.level == OVERDUE


def test_each_alert_is_raised_once():
    rec = bad()
    [a] = deadline_alerts([(rec, "quarantined")], DUE - timedelta(hours=1), BEFORE)
    assert deadline_alerts([(rec, "quarantined")], DUE - timedelta(minutes=30), BEFORE, {a.key}) == []
    assert a.as_dict()["where"] == "quarantined"


def test_ordinary_records_never_alert():
    rec = vote(1, prompted_at=VOTE, voted_at=VOTE)
    assert deadline_alerts([(rec, "pending")], DUE + timedelta(days=30), BEFORE) == []


def test_bad_review_with_unreadable_deadline_alerts_at_once():
    rec = bad()
    rec["due_at"] = "someday"
    [a] = deadline_alerts([(rec, "pending")], VOTE, BEFORE)
    assert a.level == OVERDUE
