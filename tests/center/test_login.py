"""Dashboard login (center/web/auth.py, center/throttle.py, center/web/hashing.py):
throttled per account and per address with a lockout shown on the login
page, the same scrypt work for unknown names, no sleeping, and password
checks that never take the vote API's worker threads."""
import asyncio
import os
import threading
import time
from datetime import datetime

import httpx
import pytest
from fastapi.testclient import TestClient

from center import auth
from center.api import create_app
from center.throttle import ACCOUNT, ADDRESS, LoginThrottle, Rule, wait_text
from center.web import hashing
from center.web.auth import BUSY
from center.web.hashing import HashingBusy, PasswordChecks
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import Clock, make_center, make_vote
from tests.support.web import csrf_of, login, try_login

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW))
    c.add_user("wang", "handler", "wang-pass-1", "03")
    yield c
    c.engine.dispose()


@pytest.fixture
def pauses():
    """The pauses before 429 answers, recorded instead of waited for."""
    return []


@pytest.fixture
def app(center, pauses):
    app = create_app(center)

    async def record(seconds):
        pauses.append(seconds)

    app.state.dashboard.pause = record
    return app


@pytest.fixture
def scrypt_calls(monkeypatch):
    """How many times the password KDF ran."""
    calls = []
    real = auth._scrypt

    def counted(*a, **kw):
        calls.append(a[0])
        return real(*a, **kw)

    monkeypatch.setattr(auth, "_scrypt", counted)
    return calls


# ---------------------------------------------------------------- the probe

def test_fifty_wrong_passwords_lock_the_account_and_the_right_one_waits(app, center, scrypt_calls, pauses):
    cl = TestClient(app)
    answers = [try_login(app, "wang", f"guess-{i}", client=cl)[1] for i in range(50)]
    assert [r.status_code for r in answers[:4]] == [401] * 4
    assert {r.status_code for r in answers[4:]} == {429}
    assert len(scrypt_calls) == 5                     # locked: no password is checked at all
    assert len(pauses) == 45 and all(0.5 <= p <= 1.5 for p in pauses)   # asynchronous, jittered
    locked = answers[-1]
    assert "登录失败次数过多，已暂时锁定。请 15 分 0 秒后再试。" in locked.text
    assert locked.headers["retry-after"] == "900"
    center.clock.advance(minutes=10)
    r = try_login(app, "wang", "wang-pass-1", client=cl)[1]
    assert r.status_code == 429 and "请 5 分 0 秒后再试" in r.text   # the right one too
    center.clock.advance(minutes=5)
    assert try_login(app, "wang", "wang-pass-1", client=cl)[1].status_code == 303


def test_an_unknown_name_costs_the_same_scrypt_work_as_a_wrong_password(app, scrypt_calls):
    cl = TestClient(app)
    unknown = try_login(app, "nobody", "some-password", client=cl)[1]
    assert len(scrypt_calls) == 1
    known = try_login(app, "wang", "some-password", client=cl)[1]
    assert len(scrypt_calls) == 2
    assert (unknown.status_code, known.status_code) == (401, 401)
    assert "用户名或密码错误" in unknown.text and "用户名或密码错误" in known.text
    # unknown names are locked like real ones, so a lockout tells nothing either
    for i in range(4):
        try_login(app, "nobody", f"g{i}", client=cl)
    assert try_login(app, "nobody", "g", client=cl)[1].status_code == 429


def test_a_failed_login_never_sleeps(app, monkeypatch):
    def no_sleep(_s):
        raise AssertionError("a failed login slept on a worker thread")

    monkeypatch.setattr(time, "sleep", no_sleep)
    assert try_login(app, "wang", "wrong")[1].status_code == 401


def test_one_address_is_locked_after_twenty_failures_over_many_names(app):
    cl = TestClient(app)
    codes = [try_login(app, f"name{i}", "pw", client=cl)[1].status_code for i in range(ADDRESS.failures)]
    assert codes == [401] * (ADDRESS.failures - 1) + [429]
    assert try_login(app, "wang", "wang-pass-1", client=cl)[1].status_code == 429


def test_a_full_password_queue_answers_429_on_the_login_page(app, monkeypatch):
    async def busy(*_a):
        raise HashingBusy()

    monkeypatch.setattr(app.state.dashboard.passwords, "check", busy)
    r = try_login(app, "wang", "wang-pass-1")[1]
    assert r.status_code == 429 and BUSY in r.text and r.headers["retry-after"] == "5"


def test_a_login_flood_never_holds_up_the_vote_api(center, app, monkeypatch):
    """While every password check is stuck, logins beyond the small queue get
    429 at once and votes are still stored: checks run on their own thread."""
    token = center.add_device("tab-03", "taojiang", "03")
    release, threads = threading.Event(), set()

    def stuck_check(password, stored):
        threads.add(threading.current_thread().name)
        assert release.wait(30)
        return False

    monkeypatch.setattr(hashing, "check_password", stuck_check)

    async def run():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as cl:
            form = await cl.get("/login")
            data = {"name": "wang", "password": "guess", "csrf": csrf_of(form.text)}
            logins = [asyncio.create_task(cl.post("/login", data=dict(data, name=f"n{i}")))
                      for i in range(40)]
            for _ in range(200):                      # until all but the admitted ones are answered
                if sum(t.done() for t in logins) == 40 - 9:
                    break
                await asyncio.sleep(0.05)
            refused = [t.result().status_code for t in logins if t.done()]
            vote = await cl.post("/api/v1/votes", headers={"Authorization": f"Bearer {token}"},
                                 json={"device_id": "tab-03", "votes": [make_vote("tab-03", 1)]})
            still_waiting = sum(not t.done() for t in logins)
            release.set()
            rest = [r.status_code for r in await asyncio.gather(*logins)]
            return refused, vote, still_waiting, rest

    refused, vote, still_waiting, rest = asyncio.run(run())
    assert vote.status_code == 200 and vote.json()["results"][0]["status"] == "stored"
    assert still_waiting == 9                          # 1 running + 8 waiting, nothing else
    assert refused == [429] * 31
    assert sorted(rest) == [401] * 9 + [429] * 31
    assert threads == {"password-check_0"}             # never an AnyIO worker thread


# ---------------------------------------------------------------- the rules

def test_throttle_locks_an_account_after_five_failures_within_the_window():
    t = LoginThrottle(account=Rule(5, 900, 900), address=Rule(100, 900, 900))
    assert [t.failed("wang", "a", now) for now in (0, 1, 2, 3)] == [0, 0, 0, 0]
    assert t.failed("wang", "a", 4) == 900
    assert t.wait_s("wang", "b", 304) == 600         # any address
    assert t.wait_s("li", "a", 304) == 0             # another account
    assert t.wait_s("wang", "a", 904) == 0


def test_throttle_forgets_failures_older_than_the_window():
    t = LoginThrottle(account=Rule(3, 60, 600), address=Rule(100, 60, 600))
    t.failed("wang", "a", 0)
    t.failed("wang", "a", 30)
    assert t.failed("wang", "a", 61) == 0            # the one at 0 fell out of the window
    assert t.failed("wang", "a", 62) == 600


def test_success_clears_the_account_but_not_the_address():
    t = LoginThrottle(account=Rule(3, 900, 900), address=Rule(4, 900, 900))
    t.failed("wang", "a", 0)
    t.failed("wang", "a", 1)
    t.succeeded("wang")
    assert t.failed("wang", "a", 2) == 0             # account count restarted …
    assert t.failed("li", "a", 3) == 900             # … the address's did not


def test_throttle_memory_is_bounded():
    t = LoginThrottle(max_keys=100)
    for i in range(1000):
        t.failed(f"name{i}", f"10.0.{i // 250}.{i % 250}", i)
    assert len(t.accounts) == 100 and len(t.addresses) == 100
    assert t.accounts.wait_s("name999", 999) == 0 and "name999" in t.accounts._keys
    assert "name0" not in t.accounts._keys            # the least recent went first


def test_default_rules_and_wait_text():
    assert (ACCOUNT.failures, ACCOUNT.lockout_s) == (5, 900) and ADDRESS.failures > ACCOUNT.failures
    assert wait_text(899.2) == "15 分 0 秒" and wait_text(61) == "1 分 1 秒" and wait_text(0.3) == "1 秒"


def test_password_checks_admit_a_few_and_refuse_the_rest_at_once():
    checks = PasswordChecks(threads=1, waiting=1)
    with checks.admitted(), checks.admitted():
        with pytest.raises(HashingBusy):
            with checks.admitted():
                pass
    with checks.admitted():                            # places are given back
        pass


def test_password_checks_run_on_their_own_thread_at_lower_priority(monkeypatch):
    own = os.getpriority(os.PRIO_PROCESS, 0)
    monkeypatch.setattr(hashing, "check_password", lambda p, s: (
        threading.current_thread().name, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    name, priority = asyncio.run(PasswordChecks().check("a", "b"))
    assert name.startswith("password-check") and priority == min(19, own + hashing.NICE)


def test_right_password_after_failures_logs_in_and_resets_the_account(app):
    cl = TestClient(app)
    for _ in range(3):
        try_login(app, "wang", "wrong", client=cl)
    assert try_login(app, "wang", "wang-pass-1", client=cl)[1].status_code == 303
    login(app, "wang", "wang-pass-1")
