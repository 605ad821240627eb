"""Server-side dashboard sessions (center/sessions.py, center/web/auth.py):
logout, a password change (hall-center passwd) and disabling a user
(hall-center disable-user) end them; idle and absolute expiry. On SQLite
and PostgreSQL."""
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from center.api import create_app
from center.auth import token_hash
from center.cli import main
from center.db import sessions as sessions_table
from center.sessions import COOKIE, SessionPolicy
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import Clock, make_center
from tests.support.web import login, logout, try_login

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW))
    c.add_user("wang", "handler", "wang-pass-1", "03")
    c.add_user("chen", "supervisor", "chen-pass-1")
    yield c
    c.engine.dispose()


@pytest.fixture
def app(center):
    return create_app(center)


@pytest.fixture
def config(center, tmp_path):
    """A config file for the CLI, naming the same database."""
    p = tmp_path / "center.toml"
    p.write_text(f'[center]\ndatabase = "{center.cfg.database}"\n'
                 f'session_secret_file = "{tmp_path / "session.key"}"\n', encoding="utf-8")
    return str(p)


def opens_dashboard(app, cookie: str) -> bool:
    r = TestClient(app, cookies={COOKIE: cookie}).get("/cases", follow_redirects=False)
    assert r.status_code in (200, 303), r.text
    return r.status_code == 200


def stored_sessions(center):
    with center.engine.connect() as conn:
        return conn.execute(select(sessions_table)).all()


def test_a_cookie_saved_before_logout_no_longer_opens_the_dashboard(app, center):
    cl = login(app, "wang", "wang-pass-1")
    saved = cl.cookies[COOKIE]
    assert opens_dashboard(app, saved)
    logout(cl)
    assert not opens_dashboard(app, saved)
    assert stored_sessions(center) == []


def test_the_database_holds_only_a_hash_of_the_session_key(app, center):
    cl = login(app, "wang", "wang-pass-1")
    key = cl.cookies[COOKIE]
    (row,) = stored_sessions(center)
    assert row.key_hash == token_hash(key) and key not in str(tuple(row)) and len(key) >= 43
    assert not opens_dashboard(app, row.key_hash)          # the stored value opens nothing


def test_session_cookie_is_httponly_and_samesite_lax_and_secure_when_configured(db_url, tmp_path):
    for secure in (False, True):
        c = make_center(db_url, tmp_path, secure_cookies=secure)
        try:
            if not secure:
                c.add_user("wang", "handler", "wang-pass-1", "03")
            app = create_app(c)
            client = TestClient(app, base_url="https://testserver" if secure else "http://testserver")
            _, r = try_login(app, "wang", "wang-pass-1", client=client)
            assert r.status_code == 303, r.text
            cookie = next(v for k, v in r.headers.multi_items()
                          if k == "set-cookie" and v.startswith(COOKIE + "="))
            flags = {f.strip().lower() for f in cookie.split(";")[1:]}
            assert {"httponly", "samesite=lax", "path=/"} <= flags
            assert ("secure" in flags) == secure
        finally:
            c.engine.dispose()


def test_passwd_ends_the_users_sessions_and_only_the_new_password_works(app, center, config, tmp_path):
    wang = login(app, "wang", "wang-pass-1").cookies[COOKIE]
    chen = login(app, "chen", "chen-pass-1").cookies[COOKIE]
    pw = tmp_path / "pw.txt"
    pw.write_text("wang-new-pass\n", encoding="utf-8")
    assert main(["passwd", "wang", "--password-file", str(pw), "--config", config]) == 0
    assert not opens_dashboard(app, wang)
    assert opens_dashboard(app, chen)                       # other users keep theirs
    assert try_login(app, "wang", "wang-pass-1")[1].status_code == 401
    login(app, "wang", "wang-new-pass")


def test_passwd_asks_twice_and_refuses_a_mismatch_or_a_short_one(config, monkeypatch, capsys):
    answers = iter(["wang-new-pass", "wang-other-pass"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert main(["passwd", "wang", "--config", config]) == 2
    assert "differ" in capsys.readouterr().err
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "short")
    assert main(["passwd", "wang", "--config", config]) == 2
    assert "at least 8 characters" in capsys.readouterr().err


def test_passwd_or_disable_of_an_unknown_user_fails_with_a_hint(config, capsys, tmp_path):
    pw = tmp_path / "pw.txt"
    pw.write_text("long-enough-1", encoding="utf-8")
    assert main(["passwd", "nobody", "--password-file", str(pw), "--config", config]) == 2
    assert "no user 'nobody'; add it with add-user" in capsys.readouterr().err
    assert main(["disable-user", "nobody", "--config", config]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err


def test_disable_user_ends_its_sessions_and_refuses_its_login(app, config, capsys):
    saved = login(app, "wang", "wang-pass-1").cookies[COOKIE]
    assert main(["disable-user", "wang", "--config", config]) == 0
    assert "1 dashboard session(s) ended" in capsys.readouterr().out
    assert not opens_dashboard(app, saved)
    _, r = try_login(app, "wang", "wang-pass-1")
    assert r.status_code == 401 and "用户名或密码错误" in r.text   # tells a guesser nothing
    assert main(["enable-user", "wang", "--config", config]) == 0
    login(app, "wang", "wang-pass-1")


def test_a_session_ends_after_an_idle_hour(app, center):
    saved = login(app, "wang", "wang-pass-1").cookies[COOKIE]
    center.clock.advance(minutes=59)
    assert opens_dashboard(app, saved)                      # and counts as use
    center.clock.advance(minutes=59)
    assert opens_dashboard(app, saved)
    center.clock.advance(minutes=61)
    assert not opens_dashboard(app, saved)
    assert stored_sessions(center) == []                    # an ended session is deleted


def test_a_session_in_use_still_ends_twelve_hours_after_login(app, center):
    saved = login(app, "wang", "wang-pass-1").cookies[COOKIE]
    for _ in range(23):
        center.clock.advance(minutes=30)
        assert opens_dashboard(app, saved)
    center.clock.advance(minutes=31)                         # 12 h 1 min after login
    assert not opens_dashboard(app, saved)


def test_logging_in_again_ends_the_browsers_previous_session(app, center):
    cl = login(app, "wang", "wang-pass-1")
    first = cl.cookies[COOKIE]
    try_login(app, "chen", "chen-pass-1", client=cl)
    assert cl.cookies[COOKIE] != first and not opens_dashboard(app, first)
    assert [s.user_name for s in stored_sessions(center)] == ["chen"]


def test_ended_sessions_are_purged_at_the_next_login(app, center):
    for _ in range(3):
        login(app, "wang", "wang-pass-1")
    center.clock.advance(hours=2)
    login(app, "chen", "chen-pass-1")
    assert [s.user_name for s in stored_sessions(center)] == ["chen"]


def test_session_policy_rules():
    p = SessionPolicy(idle_s=3600, max_s=12 * 3600, touch_s=60)
    t = NOW
    assert not p.ended(t, t, t + timedelta(minutes=60))
    assert p.ended(t, t, t + timedelta(minutes=60, seconds=1))
    assert p.ended(t, t + timedelta(hours=12), t + timedelta(hours=12, seconds=1))
    assert not p.needs_touch(t, t + timedelta(seconds=59)) and p.needs_touch(t, t + timedelta(seconds=60))
