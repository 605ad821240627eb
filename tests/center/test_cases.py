"""The life of a bad-review case as pure rules (center/cases.py), no database."""
from datetime import datetime, time, timedelta

import pytest

from hallcore.hallclock import DEFAULT_TZ

from center.cases import (
    Actor, CaseError, CaseView, apply, available, can_see, due_alerts, retry_delay,
)

DUE = datetime(2026, 12, 1, 17, 30, tzinfo=DEFAULT_TZ)
COORD = datetime(2026, 12, 8, 17, 30, tzinfo=DEFAULT_TZ)
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)
HANDLER = Actor("wang", "handler", "03")
OTHER = Actor("zhao", "handler", "05")
BOSS = Actor("chen", "supervisor")


def case(**kw):
    base = dict(state="new", window_id="03", due_at=DUE)
    base.update(kw)
    return CaseView(**base)


def step(c, action, actor=HANDLER, now=NOW, **kw):
    ch = apply(c, action, actor, now=now, coordination_due=COORD, **kw)
    fields = {k: v for k, v in ch.updates.items() if k in CaseView.__dataclass_fields__}
    return CaseView(**{**c.__dict__, **fields}), ch


def test_verify_feedback_close_in_time_is_on_time():
    c, _ = step(case(), "verify")
    assert c.state == "verifying"
    c, ch = step(c, "feedback", feedback="已电话联系群众并致歉")
    assert c.state == "handled" and ch.updates["handled_at"] == NOW and ch.note == "已电话联系群众并致歉"
    c, ch = step(c, "close", now=DUE + timedelta(days=3))
    assert c.state == "closed" and ch.updates["on_time"] is True   # feedback was before the deadline


def test_feedback_after_the_deadline_is_not_on_time():
    c, _ = step(case(state="verifying"), "feedback", now=DUE + timedelta(minutes=1), feedback="已回访")
    _, ch = step(c, "close", now=DUE + timedelta(hours=1))
    assert ch.updates["on_time"] is False


def test_feedback_needs_verification_first_and_text():
    with pytest.raises(CaseError, match="核实"):
        step(case(), "feedback", feedback="x")
    with pytest.raises(CaseError, match="反馈"):
        step(case(state="verifying"), "feedback", feedback="   ")


def test_close_before_feedback_is_refused():
    for state in ("new", "verifying"):
        with pytest.raises(CaseError):
            step(case(state=state), "close")


def test_coordination_moves_the_deadline_to_seven_working_days_and_needs_feedback_to_close():
    c, ch = step(case(state="verifying"), "coordinate", note="需国土、住建协调")
    assert c.state == "coordinating" and c.due_at == COORD and ch.updates["escalated"] is False
    with pytest.raises(CaseError, match="反馈"):
        step(c, "close")
    c, ch = step(c, "close", feedback="协调后已办结并回复群众")
    assert c.state == "closed" and ch.updates["on_time"] is True


def test_handler_acts_only_on_own_window_supervisor_on_all():
    assert can_see(HANDLER, "03") and not can_see(OTHER, "03") and can_see(BOSS, "03")
    with pytest.raises(CaseError, match="本窗口"):
        step(case(), "verify", actor=OTHER)
    c, _ = step(case(), "verify", actor=BOSS)
    assert c.state == "verifying"


def test_appeal_upheld_by_supervisor_closes_and_excludes_from_scores():
    c, ch = step(case(), "appeal", claim="malicious", note="群众当场表示误点")
    assert c.appeal == "pending" and c.state == "new" and "恶意评价" in ch.note
    with pytest.raises(CaseError, match="督办"):
        step(c, "uphold", note="同意")                   # a handler cannot decide
    c, ch = step(c, "uphold", actor=BOSS, note="监控核实属实")
    assert c.appeal == "upheld" and c.state == "closed"
    assert ch.extra == {"exclude_from_scores": True}


def test_rejected_appeal_keeps_the_case_running_and_cannot_be_repeated():
    c, _ = step(case(), "appeal", claim="mistaken", note="误评")
    c, ch = step(c, "reject_appeal", actor=BOSS, note="证据不足")
    assert c.appeal == "rejected" and c.state == "new" and not ch.extra
    with pytest.raises(CaseError, match="已提出过"):
        step(c, "appeal", claim="mistaken", note="再次申诉")


def test_appeal_needs_a_known_claim_and_a_reason():
    with pytest.raises(CaseError, match="申诉理由"):
        step(case(), "appeal", claim="bored", note="x")
    with pytest.raises(CaseError, match="申诉说明"):
        step(case(), "appeal", claim="mistaken", note="")


def test_closed_case_takes_no_action():
    with pytest.raises(CaseError, match="已办结"):
        step(case(state="closed"), "appeal", claim="mistaken", note="x")


def test_available_actions_follow_state_and_role():
    assert available(case(), HANDLER) == ["verify", "coordinate", "appeal"]
    assert available(case(state="handled"), HANDLER) == ["close", "appeal"]
    assert available(case(appeal="pending"), BOSS) == ["verify", "coordinate", "uphold", "reject_appeal"]
    assert available(case(), OTHER) == []


MORNING = time(8, 30)


@pytest.mark.parametrize("now,expected", [
    (datetime(2026, 11, 30, 18, 0, tzinfo=DEFAULT_TZ), []),             # the day before
    (datetime(2026, 12, 1, 8, 29, tzinfo=DEFAULT_TZ), []),              # due day, before the morning
    (datetime(2026, 12, 1, 8, 30, tzinfo=DEFAULT_TZ), ["due_today"]),   # due day morning
    (datetime(2026, 12, 1, 17, 30, tzinfo=DEFAULT_TZ), ["due_today"]),  # exactly at the deadline
    (datetime(2026, 12, 1, 17, 31, tzinfo=DEFAULT_TZ), ["escalate"]),   # overdue
])
def test_due_alerts_over_the_due_day(now, expected):
    assert due_alerts("new", DUE, due_alerted=False, escalated=False, now=now, morning=MORNING) == expected


def test_due_alerts_are_sent_once_and_not_for_handled_cases():
    late = DUE + timedelta(hours=1)
    morning = datetime(2026, 12, 1, 9, 0, tzinfo=DEFAULT_TZ)
    assert due_alerts("new", DUE, due_alerted=True, escalated=False, now=morning, morning=MORNING) == []
    assert due_alerts("verifying", DUE, due_alerted=True, escalated=True, now=late, morning=MORNING) == []
    assert due_alerts("handled", DUE, due_alerted=False, escalated=False, now=late, morning=MORNING) == []
    assert due_alerts("coordinating", DUE, due_alerted=True, escalated=False, now=late,
                      morning=MORNING) == ["escalate"]


def test_retry_delay_doubles_and_is_capped():
    assert [retry_delay(n, 30, 3600) for n in (1, 2, 3, 4, 8, 50)] == [30, 60, 120, 240, 3600, 3600]
