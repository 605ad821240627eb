"""Login and logout, with server-side sessions (center/sessions.py).

A failed login never sleeps on a worker thread: guessing is throttled per
account and per address (center/throttle.py), a locked key gets the login
page with the remaining time (429, after an asynchronous pause) and no
password check at all. An unknown name costs the same scrypt work as a
wrong password. Password checks run on their own small thread pool
(hashing.py), never on the workers the vote API uses.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import random
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse
from starlette.concurrency import run_in_threadpool

from hallcore.hallclock import to_db

from .. import queries, sessions
from ..auth import UNKNOWN_USER_HASH, token_hash
from ..throttle import wait_text
from .deps import CenterDep, Dashboard, DashboardDep, FormActor, check_csrf, page
from .hashing import HashingBusy

router = APIRouter(include_in_schema=False)
LOGIN_COOKIE = "hall_login"      # a random nonce; the form's CSRF token is its HMAC
MAX_NAME = 64
WRONG = "用户名或密码错误"
BUSY = "同时登录的人较多，请稍等几秒后再试"
BUSY_RETRY_S = 5
REFUSAL_PAUSE_S = 1.0


def locked_message(wait_s: float) -> str:
    return f"登录失败次数过多，已暂时锁定。请 {wait_text(wait_s)}后再试。"


def _login_token(dash: Dashboard, nonce: str) -> str:
    return hmac.new(dash.secret, b"login:" + nonce.encode(), hashlib.sha256).hexdigest()


def login_page(request: Request, dash: Dashboard, error: str | None = None, status: int = 200,
               retry_after_s: float | None = None) -> HTMLResponse:
    """The login form; its CSRF token is bound to the browser's login cookie."""
    nonce = request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)
    resp = page(request, "login.html", None, error=error, status=status,
                csrf=_login_token(dash, nonce))
    resp.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="lax", path="/login",
                    secure=dash.secure_cookies)
    if retry_after_s:
        resp.headers["Retry-After"] = str(max(1, math.ceil(retry_after_s)))
    return resp


async def _refuse(request: Request, dash: Dashboard, message: str, retry_after_s: float) -> HTMLResponse:
    """429 with the reason, after an asynchronous pause: it holds no worker
    thread, only the connection, and slows a guessing client's retry loop,
    so that a flood of refused logins costs the server (and the vote API
    sharing its event loop) little."""
    await dash.pause(REFUSAL_PAUSE_S * (0.5 + random.random()))   # jitter: no synchronized bursts
    return login_page(request, dash, message, 429, retry_after_s)


@router.get("/login")
async def login_form(request: Request, dash: DashboardDep):
    return login_page(request, dash)


def _start_session(center, dash: Dashboard, user_name: str, old_key: str | None) -> str:
    """A new session for `user_name` (and the browser's previous one ended); its key."""
    key, now = sessions.new_key(), center.clock()
    with center.engine.begin() as conn:
        created_before, seen_before = dash.policy.oldest_alive(now)
        queries.end_stale_sessions(conn, to_db(created_before), to_db(seen_before))
        if old_key:
            queries.end_session(conn, token_hash(old_key))
        queries.start_session(conn, token_hash(key), user_name, sessions.new_csrf(), to_db(now))
    return key


def _user(center, name: str):
    with center.engine.connect() as conn:
        return queries.user_by_name(conn, name)


@router.post("/login")
async def login(request: Request, center: CenterDep, dash: DashboardDep,
                name: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
                csrf: Annotated[str, Form()] = ""):
    nonce = request.cookies.get(LOGIN_COOKIE)
    check_csrf(_login_token(dash, nonce) if nonce else "", csrf)
    name = name[:MAX_NAME]
    address = request.client.host if request.client else ""
    now = center.clock().timestamp()
    if wait := dash.throttle.wait_s(name, address, now):
        return await _refuse(request, dash, locked_message(wait), wait)
    try:
        with dash.passwords.admitted():
            user = await run_in_threadpool(_user, center, name)
            ok = await dash.passwords.check(password, user.password_hash if user else UNKNOWN_USER_HASH)
    except HashingBusy:
        return await _refuse(request, dash, BUSY, BUSY_RETRY_S)
    if not ok or user is None or user.disabled_at is not None:
        if wait := dash.throttle.failed(name, address, now):
            return login_page(request, dash, locked_message(wait), 429, wait)
        return login_page(request, dash, WRONG, 401)
    dash.throttle.succeeded(name)
    key = await run_in_threadpool(_start_session, center, dash, user.name,
                                  request.cookies.get(sessions.COOKIE))
    resp = RedirectResponse("/cases", status_code=303)
    resp.set_cookie(sessions.COOKIE, key, max_age=dash.policy.max_s, httponly=True, samesite="lax",
                    secure=dash.secure_cookies, path="/")
    resp.delete_cookie(LOGIN_COOKIE, path="/login")
    return resp


def _end_session(center, key_hash: str) -> None:
    with center.engine.begin() as conn:
        queries.end_session(conn, key_hash)


@router.post("/logout")
def logout(request: Request, center: CenterDep, _actor: FormActor):
    _end_session(center, request.state.session)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(sessions.COOKIE, path="/")
    return resp
