"""Two real `hall-center serve` processes on one PostgreSQL (issue 14, "Scale"):

- tablets post overlapping batches to both; new bad reviews and overdue
  cases come due while both run: every record is stored once, the webhook
  receiver gets every alert once, every case is escalated once;
- one instance is killed (SIGKILL) while the receiver holds its delivery
  open: the other sends everything once the lease ends; the one alert the
  killed instance had handed over comes a second time with the same
  alert_id, and nothing else repeats;
- a dashboard login made through one instance holds on the other.

Time: the center's real clock (`serve` takes no test clock). Bad reviews
voted a month ago are overdue the moment they are stored, so their
escalation comes due at the next worker round; the due-day reminder needs
a chosen hall day and is raced in-process (tests/center/test_casework.py).
"""
from __future__ import annotations

import threading
from collections import Counter
from datetime import datetime, timedelta

import requests
from sqlalchemy import create_engine, text

from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import make_vote
from tests.support.waiting import wait_for
from tests.support.web import csrf_of
from tests.support.webhook import Receiver

DEVICES = 8
PER_DEVICE = 30
BATCH = 10


def votes_of(device: str, now: datetime) -> list[dict]:
    """Every third record is bad; every sixth is a month old (overdue at once)."""
    out = []
    for seq in range(1, PER_DEVICE + 1):
        bad, old = seq % 3 == 0, seq % 6 == 0
        at = now - (timedelta(days=30) if old else timedelta(minutes=10)) + timedelta(seconds=seq)
        out.append(make_vote(device, seq, bad=bad, at=at))
    return out


def post_all(url: str, device: str, token: str, votes: list[dict], answers: list, errors: list,
             lock: threading.Lock, start: threading.Barrier) -> None:
    with requests.Session() as s:
        s.headers["Authorization"] = f"Bearer {token}"
        start.wait(30)
        for i in range(0, len(votes), BATCH):
            r = s.post(url + "/api/v1/votes", json={"device_id": device, "votes": votes[i:i + BATCH]},
                       timeout=60)
            with lock:
                if r.status_code == 200:
                    answers.extend(r.json()["results"])
                else:
                    errors.append(f"{r.status_code} {r.text[:300]}")


class Db:
    """Reads of the shared database while the instances run."""

    def __init__(self, url: str):
        self.engine = create_engine(url)

    def all(self, sql: str) -> list:
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).all()

    def one(self, sql: str):
        with self.engine.connect() as conn:
            return conn.execute(text(sql)).scalar()


def test_two_instances_store_each_record_once_alert_once_and_escalate_once(center_instances):
    with Receiver() as hook:
        fleet = center_instances(2, webhook_url=hook.url, lease_s=30, retry_first_s=1)
        a, b = fleet.centers
        devices = [f"tab-{i:02d}" for i in range(1, DEVICES + 1)]
        tokens = fleet.enroll(devices)
        now = datetime.now(DEFAULT_TZ)
        votes = {d: votes_of(d, now) for d in devices}
        answers: list[dict] = []
        errors: list[str] = []
        lock = threading.Lock()
        start = threading.Barrier(2 * DEVICES)
        threads = []
        for d in devices:
            # the same records to both instances, in orders that overlap batch by batch
            rotated = votes[d][BATCH // 2:] + votes[d][:BATCH // 2]
            for center, order in ((a, votes[d]), (b, rotated)):
                threads.append(threading.Thread(target=post_all, args=(
                    center.url, d, tokens[d], order, answers, errors, lock, start)))
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not any(t.is_alive() for t in threads) and errors == []

        every = [v for d in devices for v in votes[d]]
        bad = [v for v in every if v["rating"] == "dissatisfied"]
        overdue = [v for v in bad if int(v["seq"]) % 6 == 0]
        assert len(answers) == 2 * len(every)
        stored = Counter(x["id"] for x in answers if x["status"] == "stored")
        assert set(stored) == {v["id"] for v in every} and set(stored.values()) == {1}
        assert {x["status"] for x in answers} == {"stored", "duplicate"}

        db = Db(fleet.database)
        try:
            want_webhook = len(bad) + len(overdue)                   # new_case each, escalate the overdue

            def all_done():
                return (db.one("SELECT count(*) FROM cases WHERE escalated") >= len(overdue)
                        and db.one("SELECT count(*) FROM alerts WHERE channel = 'webhook'") >= want_webhook
                        and db.one("SELECT count(*) FROM alerts WHERE channel = 'webhook' "
                                   "AND delivered_at IS NULL") == 0)
            wait_for(all_done, timeout=120, what="every alert delivered and every escalation made",
                     every=0.25)
            fleet.stop()                 # graceful: a round in progress finishes; then nothing can send

            assert db.one("SELECT count(*) FROM records") == len(every)
            assert db.one("SELECT sum(total) FROM daily_stats") == len(every)
            assert db.one("SELECT count(*) FROM cases") == len(bad)
            assert db.one("SELECT count(*) FROM alerts WHERE channel = 'webhook'") == want_webhook
            # every alert delivered once: the receiver counts by alert_id
            rows = db.all("SELECT id, kind FROM alerts WHERE channel = 'webhook' ORDER BY id")
            got = hook.count_by_id()
            assert set(got) == {r.id for r in rows} and set(got.values()) == {1}
            assert Counter(p.body["kind"] for p in hook.posts()) == {"new_case": len(bad),
                                                                     "escalate": len(overdue)}
            assert all(p.idempotency_key == f'"{p.alert_id}"' for p in hook.posts())
            # every escalation happened once: its log line and its system 督办
            per_case = db.all("SELECT c.id, "
                              "(SELECT count(*) FROM case_log l WHERE l.case_id = c.id AND l.action = 'escalate'), "
                              "(SELECT count(*) FROM supervisions s WHERE s.case_id = c.id AND s.actor = '系统') "
                              "FROM cases c WHERE c.escalated")
            assert len(per_case) == len(overdue) and {(e, s) for _, e, s in per_case} == {(1, 1)}
            assert db.one("SELECT count(*) FROM alerts WHERE channel = 'dashboard'") == want_webhook
        finally:
            db.engine.dispose()
        senders = Counter(p.instance for p in hook.posts())
        print(f"deliveries by instance: {dict(senders)}")
        assert "Traceback" not in fleet.logs()


def test_an_instance_killed_mid_delivery_leaves_its_alerts_to_the_other(center_instances):
    with Receiver(hold_first=True) as hook:
        fleet = center_instances(2, webhook_url=hook.url, lease_s=4, retry_first_s=1)
        tokens = fleet.enroll(["tab-01"])
        now = datetime.now(DEFAULT_TZ)
        first = [make_vote("tab-01", s, bad=True, at=now - timedelta(minutes=5)) for s in range(1, 7)]
        a = fleet.centers[0]
        r = requests.post(a.url + "/api/v1/votes", headers={"Authorization": f"Bearer {tokens['tab-01']}"},
                          json={"device_id": "tab-01", "votes": first}, timeout=30)
        assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {"stored"}

        assert hook.held.wait(60), "no instance delivered the first alert"
        (held,) = hook.posts()                     # the receiver has it; its sender has no answer yet
        victim = fleet.by_pid(int(held.instance.rsplit(":", 1)[1]))
        victim.kill()                              # SIGKILL: no outcome written, no shutdown
        hook.release()
        (survivor,) = [c for c in fleet.centers if c is not victim]

        more = [make_vote("tab-01", s, bad=True, at=now - timedelta(minutes=5)) for s in range(7, 10)]
        r = requests.post(survivor.url + "/api/v1/votes",
                          headers={"Authorization": f"Bearer {tokens['tab-01']}"},
                          json={"device_id": "tab-01", "votes": first + more}, timeout=30)
        assert r.status_code == 200
        assert [x["status"] for x in r.json()["results"]] == ["duplicate"] * 6 + ["stored"] * 3

        db = Db(fleet.database)
        try:
            wait_for(lambda: db.one("SELECT count(*) FROM alerts WHERE channel = 'webhook' "
                                    "AND delivered_at IS NULL") == 0
                     and db.one("SELECT count(*) FROM alerts WHERE channel = 'webhook'") >= 9,
                     timeout=90, what="the survivor delivering every alert", every=0.25)
            survivor.stop()
            rows = {r.id: r for r in db.all("SELECT id, attempts, delivered_at FROM alerts "
                                            "WHERE channel = 'webhook'")}
            assert db.one("SELECT count(*) FROM records") == 9 and db.one("SELECT count(*) FROM cases") == 9
        finally:
            db.engine.dispose()

    got = hook.count_by_id()
    # nothing lost: every alert reached the receiver
    assert set(got) == set(rows) and len(rows) == 9
    # nothing doubles but the one alert the killed instance had handed over before
    # its outcome was written: it comes again, from the survivor, with the same key
    assert got[held.alert_id] == 2
    assert all(n == 1 for i, n in got.items() if i != held.alert_id)
    again = [p for p in hook.posts() if p.alert_id == held.alert_id]
    assert again[0].instance != again[1].instance
    assert again[0].idempotency_key == again[1].idempotency_key == f'"{held.alert_id}"'
    assert rows[held.alert_id].attempts == 1                 # the survivor's one recorded delivery
    assert all(r.delivered_at is not None for r in rows.values())


def test_a_login_through_one_instance_holds_on_the_other(center_instances):
    """The login form's CSRF token is signed with the shared key file, the
    session is a database row: form from A, login at B, pages from both."""
    fleet = center_instances(2)
    a, b = fleet.centers
    a.add_user("chen", "supervisor", "Correct-Horse-9")
    with requests.Session() as s:                   # cookies are per host, not per port: one browser
        form = s.get(a.url + "/login", timeout=10)
        r = s.post(b.url + "/login", data={"name": "chen", "password": "Correct-Horse-9",
                                          "csrf": csrf_of(form.text)}, allow_redirects=False, timeout=30)
        assert r.status_code == 303 and r.headers["location"] == "/cases"
        for c in (a, b, a):
            page = s.get(c.url + "/cases", allow_redirects=False, timeout=10)
            assert page.status_code == 200 and "chen" in page.text
        logout = s.post(a.url + "/logout", data={"csrf": csrf_of(s.get(b.url + "/cases").text)},
                        allow_redirects=False, timeout=10)
        assert logout.status_code == 303
        assert s.get(b.url + "/cases", allow_redirects=False, timeout=10).status_code == 303   # ended on both
    assert fleet.scalar("SELECT count(*) FROM alembic_version") == 1
