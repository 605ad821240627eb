"""What hall IT and the center see of the agent (agent/status.py)."""
from datetime import datetime, timedelta, timezone

from agent.status import heartbeat_body, is_stale, render

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=timezone(timedelta(hours=8)))
ST = {"state": "backoff", "next_try_s": 12.0, "pending": 7, "oldest_pending": "2026-11-27T09:00:00+08:00",
      "quarantined": 1, "quarantined_ids": ["q1"], "last_success": "2026-11-27T14:00:00+08:00",
      "last_error": "2026-11-27T14:59:00+08:00 refused: x" + "y" * 3000, "version": "0.1.0",
      "clock": NOW.isoformat(), "pid": 42,
      "quarantine": [{"id": "q1", "ticket": "A001", "window_id": "03", "reason": "bad seq", "at": "t"}],
      "alerts": [{"id": "b1", "level": "overdue", "window_id": "03", "ticket": "A002",
                  "due_at": "2026-12-01T17:30:00+08:00", "where": "pending"}]}


def test_render_shows_the_numbers_hall_it_needs():
    text = render(ST, NOW, "/x")
    for want in ("backoff (next try in 12 s)", "pending        7", "oldest pending 2026-11-27T09:00",
                 "quarantined    1", "last success   2026-11-27T14:00", "refused", "q1", "bad seq",
                 "ALERT overdue", "b1"):
        assert want in text
    assert "not running" not in text


def test_old_or_missing_status_says_the_agent_is_not_running():
    assert is_stale(ST, NOW + timedelta(minutes=5))
    assert "not running" in render(ST, NOW + timedelta(minutes=5), "/x")
    assert "has not run yet" in render(None, NOW, "/x/agent-status.json")


def test_heartbeat_body_has_the_contract_fields_and_bounded_error():
    body = heartbeat_body(ST)
    assert set(body) == {"pending", "oldest_pending", "quarantined", "quarantined_ids", "last_success",
                         "last_error", "version", "clock", "clock_problem"}
    assert len(body["last_error"]) == 2000
    assert body["clock_problem"] is None


def test_heartbeat_says_when_the_tablets_clock_is_before_the_release():
    body = heartbeat_body(dict(ST, clock="2000-01-01T08:00:00+08:00"))    # an RTC reset
    assert "2000-01-01T08:00:00+08:00" in body["clock_problem"] and "set the tablet's date" in body["clock_problem"]
