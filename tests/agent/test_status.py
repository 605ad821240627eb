"""What hall IT and the center see of the agent (agent/status.py)."""
from datetime import datetime, timedelta

from hallcore.hallclock import DEFAULT_TZ
from agent.status import heartbeat_body, is_stale, problems, render

NOW = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
ST = {"state": "backoff", "next_try_s": 12.0, "pending": 7, "oldest_pending": "2026-11-27T09:00:00+08:00",
      "quarantined": 1, "quarantined_ids": ["q1"], "last_success": "2026-11-27T14:00:00+08:00",
      "last_error": "2026-11-27T14:59:00+08:00 refused: x" + "y" * 3000, "version": "0.1.0",
      "clock": NOW.isoformat(), "pid": 42, "chain_head": {"seq": 12, "hash": "ab" * 32},
      "quarantine": [{"id": "q1", "ticket": "A001", "window_id": "03", "reason": "bad seq", "at": "t"}],
      "alerts": [{"kind": "deadline", "id": "b1", "level": "overdue", "window_id": "03", "ticket": "A002",
                  "due_at": "2026-12-01T17:30:00+08:00", "where": "pending"}]}


def test_render_shows_the_numbers_hall_it_needs():
    text = render(ST, NOW, "/x")
    for want in ("backoff (next try in 12 s)", "pending        7", "oldest pending 2026-11-27T09:00",
                 "quarantined    1", "last success   2026-11-27T14:00", "refused", "q1", "bad seq",
                 "ALERT overdue", "b1", "chain head     seq 12 (abababababab…)"):
        assert want in text
    assert "not running" not in text


def test_old_or_missing_status_says_the_agent_is_not_running():
    assert is_stale(ST, NOW + timedelta(minutes=5))
    assert "not running" in render(ST, NOW + timedelta(minutes=5), "/x")
    assert "has not run yet" in render(None, NOW, "/x/agent-status.json")


def test_the_instance_lock_decides_running_over_the_files_age():
    dead = render(ST, NOW, "/x", running=False)          # fresh file, but nothing holds the lock
    assert dead.startswith("hall-agent is not running") and "not running (last: backoff)\n" in dead
    hung = render(ST, NOW + timedelta(minutes=5), "/x", running=True)
    assert "runs but has not written it" in hung and "not running" not in hung


def test_heartbeat_body_has_the_contract_fields_and_bounded_error():
    body = heartbeat_body(ST)
    assert set(body) == {"pending", "oldest_pending", "quarantined", "quarantined_ids", "last_success",
                         "last_error", "version", "clock", "clock_problem", "chain_head"}
    assert len(body["last_error"]) == 2000
    assert body["chain_head"] == {"seq": 12, "hash": "ab" * 32}
    assert body["clock_problem"] is None


def test_heartbeat_says_when_the_tablets_clock_is_before_the_release():
    body = heartbeat_body(dict(ST, clock="2000-01-01T08:00:00+08:00"))    # an RTC reset
    assert "2000-01-01T08:00:00+08:00" in body["clock_problem"] and "set the tablet's date" in body["clock_problem"]


def test_damaged_files_are_counted_listed_and_a_problem():
    st = dict(ST, damaged=2, damaged_files=[
        {"file": "damaged/5b0c.json", "at": "2026-11-27T08:00:01+08:00"},
        {"file": "quarantine.json.damaged", "at": "2026-11-27T08:00:02+08:00"}])
    text = render(st, NOW, "/x")
    assert "damaged        2" in text
    assert "damaged damaged/5b0c.json (set aside 2026-11-27T08:00:01+08:00)" in text
    assert "quarantine.json.damaged" in text
    assert text.startswith("WARNING: 2 damaged file(s)") and "never reaches the center" in text
    assert problems(st, NOW) and not problems(ST, NOW)
    assert "damaged        0" in render(ST, NOW, "/x")   # a status without the key (older agent)


def test_each_alert_kind_has_its_own_line():
    auth = {"kind": "auth", "level": "error", "problem": "HTTP 401: the center refuses this device's token",
            "at": "2026-11-27T14:00:00+08:00", "key": "auth"}
    soon = dict(ST["alerts"][0], kind="deadline", level="due_soon")
    odd = {"kind": "disk", "level": "warning", "free_mb": 3}
    lines = render(dict(ST, alerts=[auth, soon, odd], state="auth_blocked"), NOW, "/x").splitlines()
    auth_line = next(x for x in lines if "ALERT sending stopped" in x)
    assert "None" not in auth_line and "bad review" not in auth_line
    assert "since 2026-11-27T14:00:00+08:00: HTTP 401" in auth_line and "token file" in auth_line
    assert ("ALERT due_soon: bad review b1 window 03 ticket A002 due 2026-12-01T17:30:00+08:00, "
            "still pending on the tablet") in lines[-2]
    assert "was due 2026-12-01" in render(ST, NOW, "/x")                  # overdue
    assert lines[-1] == "  ALERT warning: disk: {'free_mb': 3}"
    assert problems(dict(ST, state="auth_blocked"), NOW)


def test_the_bundle_calendar_and_pins_go_into_the_heartbeat_and_the_status_text():
    st = dict(ST, bundle={"version": "0123456789abcdef", "error": "kiosk.timeout_s: 5 is out of range",
                          "refused": 3},
              calendar={"2026": "official", "2027": "estimated"}, pinned=["holidays", "timeout_s"])
    body = heartbeat_body(st)
    assert body["bundle"] == st["bundle"] and body["calendar"] == st["calendar"]
    assert body["pinned"] == ["holidays", "timeout_s"]
    text = render(st, NOW, "/x")
    assert "bundle         0123456789abcdef; the newest was refused: kiosk.timeout_s: 5 is out of range" in text
    assert "calendar       2026 verified (official data), 2027 NOT verified (estimated" in text
    assert "pinned         holidays, timeout_s (kept from this file, not the bundle)" in text
    assert "bundle" not in render(ST, NOW, "/x")            # an agent without a bundle says nothing of it
