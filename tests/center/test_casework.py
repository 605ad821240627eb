"""Cases in the database with a controllable clock (center/casework.py,
center/alerting.py): deadlines, reminders, escalation, appeals, the action
log, alerts that are retried until a real webhook takes them, and two
instances checking the deadlines at the same moment doing each reminder and
escalation once."""
import json
import threading
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select

from hallcore.hallclock import DEFAULT_TZ
from center import casework, stats
from center.alerting import deliver_pending
from center.cases import Actor, CaseError
from center.config import AlertConfig
from center.db import alerts, case_log, cases, supervisions
from center.ingest import ingest
from tests.support.center import Clock, make_center, make_vote

VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)        # a Friday
HANDLER = Actor("wang", "handler", "03")
BOSS = Actor("chen", "supervisor")


class Webhook:
    """A real HTTP endpoint on loopback that fails the first `fail` posts."""

    def __init__(self, fail: int):
        self.fail, self.received, self.tries = fail, [], 0
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.tries += 1
                if hook.tries <= hook.fail:
                    self.send_response(503)
                else:
                    hook.received.append(json.loads(body))
                    self.send_response(204)
                self.end_headers()

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def webhook():
    w = Webhook(fail=2)
    yield w
    w.close()


@pytest.fixture
def clock():
    return Clock(VOTED + timedelta(minutes=1))


@pytest.fixture
def center(db_url, tmp_path, clock, webhook):
    c = make_center(db_url, tmp_path, clock=clock,
                    alerts=AlertConfig(webhook_url=webhook.url, retry_first_s=60, retry_max_s=600))
    c.add_device("tab-03", "taojiang", "03")
    yield c
    c.engine.dispose()


def new_case(center, seq=1, **kw) -> int:
    ingest(center, "tab-03", [make_vote("tab-03", seq, bad=True, at=VOTED, **kw)])
    with center.engine.connect() as conn:
        return conn.execute(select(cases.c.id).order_by(cases.c.id.desc())).scalars().first()


def get(center, case_id):
    with center.engine.connect() as conn:
        return conn.execute(select(cases).where(cases.c.id == case_id)).one()


def log_actions(center, case_id):
    with center.engine.connect() as conn:
        return [(r.actor, r.action) for r in conn.execute(
            select(case_log).where(case_log.c.case_id == case_id).order_by(case_log.c.id))]


def alert_kinds(center, channel="dashboard"):
    with center.engine.connect() as conn:
        return [r.kind for r in conn.execute(
            select(alerts).where(alerts.c.channel == channel).order_by(alerts.c.id))]


def at(day: int, hh: int, mm: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=DEFAULT_TZ)


def test_new_case_alerts_and_reminds_on_the_due_morning_then_escalates_once(center, clock):
    cid = new_case(center)
    assert alert_kinds(center) == ["new_case"]
    clock.now = at(30, 9, month=11)                       # Monday: not due yet
    assert casework.check_deadlines(center) == {"due_today": 0, "escalate": 0}
    clock.now = at(1, 8, 29)                              # Tuesday before the morning reminder
    assert casework.check_deadlines(center)["due_today"] == 0
    clock.now = at(1, 8, 30)
    assert casework.check_deadlines(center)["due_today"] == 1
    assert casework.check_deadlines(center)["due_today"] == 0      # only once
    clock.now = at(1, 17, 31)                             # past Tuesday 17:30
    assert casework.check_deadlines(center)["escalate"] == 1
    clock.advance(hours=5)
    assert casework.check_deadlines(center)["escalate"] == 0       # only once
    assert alert_kinds(center) == ["new_case", "due_today", "escalate"]
    assert get(center, cid).escalated is True
    # the escalation is also a system 督办 (its table-11 row: tests/center/test_handling_db.py)
    assert log_actions(center, cid) == [("系统", "open"), ("系统", "due_today"), ("系统", "escalate"),
                                        ("系统", "supervise")]
    with center.engine.connect() as conn:
        payload = conn.execute(select(alerts.c.payload).where(alerts.c.kind == "escalate")).scalars().first()
    assert payload["to"] == "supervisor" and payload["due_at"] == "2026-12-01T17:30:00+08:00"


def test_case_handled_in_time_is_not_escalated_and_counts_as_on_time(center, clock):
    cid = new_case(center)
    clock.now = at(30, 10, month=11)
    casework.act(center, cid, "verify", HANDLER)
    casework.act(center, cid, "feedback", HANDLER, feedback="已电话回访，补办材料已一次性告知")
    clock.now = at(2, 9)
    assert casework.check_deadlines(center) == {"due_today": 0, "escalate": 0}
    casework.act(center, cid, "close", HANDLER)
    c = get(center, cid)
    assert (c.state, c.on_time, c.feedback) == ("closed", True, "已电话回访，补办材料已一次性告知")
    assert [a for _, a in log_actions(center, cid)] == ["open", "verify", "feedback", "close"]
    assert all(actor == "wang" for actor, a in log_actions(center, cid) if a != "open")


def test_coordination_gives_seven_working_days_from_the_vote(center, clock):
    cid = new_case(center)
    casework.act(center, cid, "coordinate", HANDLER, note="需不动产中心协调")
    c = get(center, cid)
    # Fri 11-27 + 7 working days = Tue 12-08 17:30 (+08:00) = 09:30 UTC
    assert c.state == "coordinating" and c.due_at == datetime(2026, 12, 8, 9, 30)
    clock.now = at(1, 18)                                  # past the 2-day deadline: fine now
    assert casework.check_deadlines(center)["escalate"] == 0
    clock.now = at(8, 17, 31)
    assert casework.check_deadlines(center)["escalate"] == 1


def test_handler_of_another_window_is_refused(center):
    cid = new_case(center)
    with pytest.raises(CaseError):
        casework.act(center, cid, "verify", Actor("zhao", "handler", "05"))
    assert get(center, cid).state == "new"


def test_upheld_appeal_leaves_the_scores_but_keeps_the_record(center, clock):
    cid = new_case(center)
    ingest(center, "tab-03", [make_vote("tab-03", 2, at=VOTED)])
    day = date(2026, 11, 27)
    with center.engine.connect() as conn:
        before = stats.totals(stats.summary(conn, day, day, "window"))
    assert (before.rated, before.bad, before.bad_rate) == (2, 1, 0.5)
    casework.act(center, cid, "appeal", HANDLER, claim="mistaken", note="老人误触")
    casework.act(center, cid, "uphold", BOSS, note="回看录像属实")
    with center.engine.connect() as conn:
        after = stats.totals(stats.summary(conn, day, day, "window"))
    assert (after.good_rate, after.bad_rate) == (1.0, 0.0)
    assert get(center, cid).appeal == "upheld" and get(center, cid).state == "closed"
    assert ("chen", "uphold") in log_actions(center, cid)


def test_rebuilt_statistics_equal_the_ones_kept_at_ingest(center):
    for s in range(1, 6):
        ingest(center, "tab-03", [make_vote("tab-03", s, bad=s == 3, at=VOTED)])
    cid = new_case(center, seq=9)
    casework.act(center, cid, "appeal", HANDLER, claim="malicious", note="恶意")
    casework.act(center, cid, "uphold", BOSS, note="属实")
    day = date(2026, 11, 27)

    def snapshot():
        with center.engine.connect() as conn:
            return [(r.key, r.total, r.rated, r.good, r.bad, r.excluded)
                    for r in stats.summary(conn, day, day, "staff")]
    kept = snapshot()
    stats.rebuild_daily_stats(center.engine)
    assert snapshot() == kept and kept[0][1:] == (6, 6, 4, 2, 1)


def test_undeliverable_webhook_alert_is_retried_with_backoff_until_delivered(center, clock, webhook):
    new_case(center)
    assert deliver_pending(center) == {"sent": 0, "failed": 1}          # 503
    assert deliver_pending(center) == {"sent": 0, "failed": 0}          # waits 60 s
    clock.advance(seconds=61)
    assert deliver_pending(center) == {"sent": 0, "failed": 1}          # 503 again
    clock.advance(seconds=61)
    assert deliver_pending(center) == {"sent": 0, "failed": 0}          # now waits 120 s
    clock.advance(seconds=60)
    assert deliver_pending(center) == {"sent": 1, "failed": 0}
    assert webhook.tries == 3 and webhook.received[0]["kind"] == "new_case"
    assert webhook.received[0]["reasons"] == ["拖拉推诿"]
    with center.engine.connect() as conn:
        row = conn.execute(select(alerts).where(alerts.c.channel == "webhook")).one()
    assert row.attempts == 3 and row.delivered_at is not None and row.last_error is None


def test_alert_survives_a_restart_of_the_center(center, clock, webhook, tmp_path):
    """The outbox is in the database: a new Center on the same database delivers it."""
    new_case(center)
    deliver_pending(center)                                  # fails once
    from center.service import Center
    again = Center(center.cfg, clock=clock)
    clock.advance(minutes=10)
    webhook.fail = 0
    assert deliver_pending(again)["sent"] == 1
    again.engine.dispose()


def test_morning_setting_is_respected(db_url, tmp_path, clock, webhook):
    c = make_center(db_url, tmp_path / "m", clock=clock, alerts=AlertConfig(morning=time(10, 0)))
    c.add_device("tab-03", "taojiang", "03")
    new_case(c)
    clock.now = at(1, 9, 59)
    assert casework.check_deadlines(c)["due_today"] == 0
    clock.now = at(1, 10, 0)
    assert casework.check_deadlines(c)["due_today"] == 1
    c.engine.dispose()


def test_rectification_rate_counts_standing_cases_with_a_rectification(center):
    rectified, appealed = new_case(center, 1), new_case(center, 2)
    new_case(center, 3)                                          # still open
    casework.act(center, rectified, "rectify", HANDLER, note="已增设引导岗")
    casework.act(center, appealed, "appeal", HANDLER, claim="mistaken", note="误触")
    casework.act(center, appealed, "uphold", BOSS, note="属实")
    day = date(2026, 11, 27)
    with center.engine.connect() as conn:
        t = stats.totals(stats.summary(conn, day, day, "window"))
    # the upheld appeal is out of both counts: 1 rectified of 2 standing cases
    assert (t.cases, t.standing, t.rectified, t.rectification_rate) == (3, 2, 1, 0.5)


def test_two_instances_checking_deadlines_at_once_remind_and_escalate_each_case_once(
        db_url, tmp_path, clock, webhook):
    """Two Centers on one database (as two `serve` processes) run the deadline
    check at the same instant, round after round: each case gets one
    reminder and one escalation, one log line each, one system 督办."""
    n = 24
    one = make_center(db_url, tmp_path / "a", clock=clock, alerts=AlertConfig(webhook_url=webhook.url))
    two = make_center(db_url, tmp_path / "b", clock=clock, alerts=AlertConfig(webhook_url=webhook.url))
    try:
        one.add_device("tab-03", "taojiang", "03")
        ingest(one, "tab-03", [make_vote("tab-03", s, bad=True, at=VOTED) for s in range(1, n + 1)])
        totals = {"due_today": 0, "escalate": 0}
        for now in (at(1, 8, 30), at(1, 17, 31)):          # the due morning, then overdue
            clock.now = now
            for _ in range(3):                             # bounded: the later rounds find nothing
                start = threading.Barrier(2)
                out: list[dict] = []

                def run(center):
                    start.wait(10)
                    out.append(casework.check_deadlines(center))

                threads = [threading.Thread(target=run, args=(c,)) for c in (one, two)]
                for t in threads:
                    t.start()
                for t in threads:
                    t.join(60)
                assert len(out) == 2
                for o in out:
                    for k in totals:
                        totals[k] += o[k]
        assert totals == {"due_today": n, "escalate": n}
        with one.engine.connect() as conn:
            logged = conn.execute(select(case_log.c.case_id, case_log.c.action)
                                  .where(case_log.c.action.in_(["due_today", "escalate", "supervise"]))).all()
            notices = conn.execute(select(supervisions.c.case_id)).scalars().all()
            counts = conn.execute(select(cases.c.supervision_count)).scalars().all()
        assert len(logged) == 3 * n and len(set(logged)) == 3 * n     # one of each per case
        assert sorted(notices) == sorted(set(notices)) and len(notices) == n
        assert counts == [1] * n
        for channel in ("dashboard", "webhook"):
            kinds = alert_kinds(one, channel)
            assert (kinds.count("due_today"), kinds.count("escalate")) == (n, n)
    finally:
        one.engine.dispose()
        two.engine.dispose()
