"""What every dashboard handler depends on: the center, the logged-in actor
with its scope, the CSRF check of a form, the period of a query, and pages.

    def handler(actor: CurrentActor, center: CenterDep): ...   # logged in
    def action(actor: FormActor, ...): ...                     # logged in + CSRF
"""
from __future__ import annotations

import hmac
import secrets
from datetime import date, timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Request
from fastapi.responses import HTMLResponse
from fastapi.templating import Jinja2Templates

from .. import queries, stats
from ..cases import ACTION_LABELS, APPEAL_LABELS, CLAIM_LABELS, STATE_LABELS, Actor
from ..hallclock import HALL_TZ
from ..service import Center

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent.parent / "templates"))
MAX_PERIOD_DAYS = 3660


class NotLoggedIn(Exception):
    """No valid session: the answer is a redirect to the login page."""


class Forbidden(Exception):
    """Refused; the message is shown to the user on a page (403)."""


def center_of(request: Request) -> Center:
    return request.app.state.center


CenterDep = Annotated[Center, Depends(center_of)]


def csrf_token(request: Request) -> str:
    tok = request.session.get("csrf")
    if not tok:
        tok = request.session["csrf"] = secrets.token_urlsafe(24)
    return tok


def check_csrf(request: Request, sent: str) -> None:
    if not hmac.compare_digest(str(request.session.get("csrf", "")), sent or "-"):
        raise Forbidden("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")


def current_actor(request: Request, center: CenterDep) -> Actor:
    """The logged-in staff member; its `scope` is the window it may see."""
    name = request.session.get("user")
    if not name:
        raise NotLoggedIn()
    with center.engine.connect() as conn:
        u = queries.user_by_name(conn, name)
    if u is None:
        request.session.clear()
        raise NotLoggedIn()
    return Actor(u.name, u.role, u.window_id)


CurrentActor = Annotated[Actor, Depends(current_actor)]


def form_actor(request: Request, actor: CurrentActor, csrf: Annotated[str, Form()] = "") -> Actor:
    """The logged-in actor of a form post whose CSRF token is this session's."""
    check_csrf(request, csrf)
    return actor


FormActor = Annotated[Actor, Depends(form_actor)]


def parse_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    """A period from the query string; defaults to the last 30 days."""
    try:
        e = date.fromisoformat(end) if end else today
        s = date.fromisoformat(start) if start else e - timedelta(days=29)
    except ValueError:
        raise Forbidden("日期格式应为 YYYY-MM-DD") from None
    if s > e:
        s, e = e, s
    if (e - s).days > MAX_PERIOD_DAYS:
        s = e - timedelta(days=MAX_PERIOD_DAYS)
    return s, e


def period(center: CenterDep, start: str | None = None, end: str | None = None) -> tuple[date, date]:
    return parse_period(start, end, center.clock().astimezone(HALL_TZ).date())


Period = Annotated[tuple[date, date], Depends(period)]


def page(request: Request, name: str, actor: Actor | None, **ctx: Any) -> HTMLResponse:
    """A dashboard page with the labels every template uses."""
    ctx.update(request=request, user=actor, csrf=csrf_token(request), state_labels=STATE_LABELS,
               appeal_labels=APPEAL_LABELS, action_labels=ACTION_LABELS,
               claim_labels=CLAIM_LABELS, pct=stats.pct)
    return TEMPLATES.TemplateResponse(request, name, ctx, status_code=ctx.pop("status", 200))
