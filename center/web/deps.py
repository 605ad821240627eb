"""What every dashboard handler depends on: the center, the logged-in actor
with its scope (from the server-side session, center/sessions.py), the CSRF
check of a form, the period of a query, and pages.

    def handler(actor: CurrentActor, center: CenterDep): ...   # logged in
    def action(actor: FormActor, ...): ...                     # logged in + CSRF
    def page(actor: Supervisor, ...): ...                      # a supervisor
    def edit(actor: SupervisorForm, ...): ...                  # a supervisor + CSRF
"""
from __future__ import annotations

import asyncio
import hmac
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Annotated, Any, Awaitable, Callable

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from hallcore.hallclock import from_db, hall_day, to_db
from hallcore.packagedata import shipped

from .. import queries, sessions, stats
from ..auth import token_hash
from ..cases import APPEAL_LABELS, CLAIM_LABELS, STATE_LABELS, Actor
from ..handling import ACTION_LABELS
from ..service import Center
from ..sessions import SessionPolicy
from ..throttle import LoginThrottle
from .forms import DAY_EXAMPLE, day_text, parse_day
from .hashing import PasswordChecks

TEMPLATES = Jinja2Templates(directory=str(shipped("center", "templates")))
# {{ start|day }}: a date as 2026年12月2日; a text (a form shown again as typed) as it is
TEMPLATES.env.filters["day"] = lambda v: day_text(v) if isinstance(v, date) else (v or "")
MAX_PERIOD_DAYS = 3660


class NotLoggedIn(Exception):
    """No valid session: the answer is a redirect to the login page."""


class Forbidden(Exception):
    """Refused; the message is shown to the user on a page (403)."""


@dataclass
class Dashboard:
    """The dashboard's state in one app (app.state.dashboard)."""
    secret: bytes                   # keys the login form's CSRF token
    policy: SessionPolicy
    throttle: LoginThrottle
    passwords: PasswordChecks
    secure_cookies: bool
    pause: Callable[[float], Awaitable[None]] = asyncio.sleep   # before a 429 (tests record it)


async def center_of(request: Request) -> Center:
    return request.app.state.center


async def dashboard_of(request: Request) -> Dashboard:
    return request.app.state.dashboard


CenterDep = Annotated[Center, Depends(center_of)]
DashboardDep = Annotated[Dashboard, Depends(dashboard_of)]


def current_actor(request: Request, center: CenterDep, dash: DashboardDep) -> Actor:
    """The logged-in staff member, from the session the cookie names; its
    `scope` is the window it may see. An ended session is deleted."""
    key = request.cookies.get(sessions.COOKIE)
    if not key:
        raise NotLoggedIn()
    key_hash = token_hash(key)
    now = center.clock()
    with center.engine.connect() as conn:
        s = queries.session_login(conn, key_hash)
    if s is None:
        raise NotLoggedIn()
    seen = from_db(s.seen_at)
    if s.disabled_at is not None or dash.policy.ended(from_db(s.created_at), seen, now):
        with center.engine.begin() as conn:
            queries.end_session(conn, key_hash)
        raise NotLoggedIn()
    if dash.policy.needs_touch(seen, now):
        with center.engine.begin() as conn:
            queries.touch_session(conn, key_hash, to_db(now))
    request.state.csrf = s.csrf
    request.state.session = key_hash
    return Actor(s.name, s.role, s.window_id, s.staff_id)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def form_actor(request: Request, actor: CurrentActor, csrf: Annotated[str, Form()] = "") -> Actor:
    """The logged-in actor of a form post whose CSRF token is this session's."""
    check_csrf(request.state.csrf, csrf)
    return actor


FormActor = Annotated[Actor, Depends(form_actor)]

SUPERVISORS_ONLY = "此页面仅供中心督办人员使用"


def supervisors_only(refusal: str = SUPERVISORS_ONLY):
    """(Supervisor, SupervisorForm): the logged-in actor if a supervisor, for a
    page and for its form posts (with the session's CSRF check); anyone else
    is refused with `refusal`."""
    def require_supervisor(actor: CurrentActor) -> Actor:
        if actor.role != "supervisor":
            raise Forbidden(refusal)
        return actor

    def require_supervisor_form(actor: FormActor) -> Actor:
        return require_supervisor(actor)

    return (Annotated[Actor, Depends(require_supervisor)],
            Annotated[Actor, Depends(require_supervisor_form)])


# the directory, the rectification list and the case page's center actions
Supervisor, SupervisorForm = supervisors_only()


def check_csrf(expected: str, sent: str) -> None:
    if not expected or not hmac.compare_digest(expected, sent or "-"):
        raise Forbidden("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")


def parse_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """A period from the query string (forms.parse_day); defaults to the last 30 days."""
    try:
        e = parse_day(end) if end and end.strip() else today
        s = parse_day(start) if start and start.strip() else e - timedelta(days=29)
    except ValueError:
        raise Forbidden(f"日期格式应为 {DAY_EXAMPLE}") from None
    if s > e:
        s, e = e, s
    if (e - s).days > MAX_PERIOD_DAYS:
        s = e - timedelta(days=MAX_PERIOD_DAYS)
    return s, e


def period(center: CenterDep, start: str | None = None, end: str | None = None) -> tuple[date, date]:
    return parse_period(start, end, hall_day(center.clock()))


Period = Annotated[tuple[date, date], Depends(period)]


def page(request: Request, name: str, actor: Actor | None, **ctx: Any) -> HTMLResponse:
    """A dashboard page with the labels every template uses (and the
    session's CSRF token for its forms, unless `csrf` is given)."""
    ctx.setdefault("csrf", getattr(request.state, "csrf", ""))
    ctx.update(request=request, user=actor, state_labels=STATE_LABELS,
               appeal_labels=APPEAL_LABELS, action_labels=ACTION_LABELS,
               claim_labels=CLAIM_LABELS, pct=stats.pct)
    return TEMPLATES.TemplateResponse(request, name, ctx, status_code=ctx.pop("status", 200))
