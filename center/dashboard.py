"""The staff dashboard: server-rendered Chinese HTML (Jinja2).

Handlers see their own window; supervisors see everything. Sessions are
signed cookies (starlette SessionMiddleware); every form carries a CSRF token
bound to the session. The call-back phone is shown unmasked only on the case
page.
"""
from __future__ import annotations

import hmac
import os
import secrets
import time as _time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse
from fastapi.templating import Jinja2Templates
from sqlalchemy import func, select
from starlette.middleware.sessions import SessionMiddleware

from hallcore.record import mask_phone

from . import casework, devicefacts, export, stats
from .auth import check_password
from .cases import (
    ACTION_LABELS, APPEAL_LABELS, CLAIM_LABELS, STATE_LABELS, Actor, CaseError, available,
)
from .db import alerts, cases, devices, records, users
from .hallclock import HALL_TZ, countdown, from_db, show

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
MAX_PERIOD_DAYS = 3660
LOGIN_FAIL_DELAY_S = 0.5


def session_secret(path: Path | None) -> str:
    """The cookie-signing key: read from its file, created (0600) on first start."""
    if path is None:
        return secrets.token_hex(32)
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key


class NotLoggedIn(Exception):
    pass


class Forbidden(Exception):
    pass


def _csrf(request: Request) -> str:
    tok = request.session.get("csrf")
    if not tok:
        tok = request.session["csrf"] = secrets.token_urlsafe(24)
    return tok


def _check_csrf(request: Request, sent: str) -> None:
    if not hmac.compare_digest(str(request.session.get("csrf", "")), sent or "-"):
        raise Forbidden("表单已过期或来源不明（CSRF 校验失败），请刷新页面后重试")


def _period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
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


def mount_dashboard(app: FastAPI, center) -> None:
    app.add_middleware(SessionMiddleware, secret_key=session_secret(center.cfg.session_secret_file),
                       session_cookie="hall_center", max_age=12 * 3600, same_site="strict",
                       https_only=center.cfg.secure_cookies)

    def user(request: Request) -> Actor:
        name = request.session.get("user")
        if not name:
            raise NotLoggedIn()
        with center.engine.connect() as conn:
            u = conn.execute(select(users).where(users.c.name == name)).first()
        if u is None:
            request.session.clear()
            raise NotLoggedIn()
        return Actor(u.name, u.role, u.window_id)

    def page(request: Request, name: str, actor: Actor | None, **ctx: Any) -> HTMLResponse:
        ctx.update(request=request, user=actor, csrf=_csrf(request), state_labels=STATE_LABELS,
                   appeal_labels=APPEAL_LABELS, action_labels=ACTION_LABELS,
                   claim_labels=CLAIM_LABELS, pct=stats.pct)
        return TEMPLATES.TemplateResponse(request, name, ctx, status_code=ctx.pop("status", 200))

    @app.exception_handler(NotLoggedIn)
    async def _to_login(request: Request, _exc):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return page(request, "message.html", None, title="无法完成", message=str(exc), status=403)

    @app.get("/", include_in_schema=False)
    def home():
        return RedirectResponse("/cases", status_code=303)

    @app.get("/login", include_in_schema=False)
    def login_form(request: Request):
        return page(request, "login.html", None, error=None)

    @app.post("/login", include_in_schema=False)
    def login(request: Request, name: str = Form(""), password: str = Form(""), csrf: str = Form("")):
        _check_csrf(request, csrf)
        with center.engine.connect() as conn:
            u = conn.execute(select(users).where(users.c.name == name[:64])).first()
        if u is None or not check_password(password, u.password_hash):
            _time.sleep(LOGIN_FAIL_DELAY_S)   # slows guessing; the KDF does the rest
            return page(request, "login.html", None, error="用户名或密码错误", status=401)
        request.session.clear()
        request.session["user"] = u.name
        request.session["csrf"] = secrets.token_urlsafe(24)   # new session, new token
        return RedirectResponse("/cases", status_code=303)

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, csrf: str = Form("")):
        _check_csrf(request, csrf)
        request.session.clear()
        return RedirectResponse("/login", status_code=303)

    @app.get("/cases", include_in_schema=False)
    def open_cases(request: Request, show_closed: int = 0):
        actor = user(request)
        now = center.clock()
        q = (select(cases, records.c.body).join(records, records.c.id == cases.c.record_id)
             .order_by(cases.c.due_at))
        q = q.where(cases.c.state == "closed") if show_closed else q.where(cases.c.state != "closed")
        if actor.role == "handler":
            q = q.where(cases.c.window_id == actor.window_id)
        aq = (select(alerts).where(alerts.c.channel == "dashboard")
              .order_by(alerts.c.id.desc()).limit(10))
        with center.engine.connect() as conn:
            rows = conn.execute(q.limit(500)).all()
            recent = conn.execute(aq).all()
        items = []
        for r in rows:
            due = from_db(r.due_at)
            text, overdue = countdown(due, now)
            running = r.state in ("new", "verifying", "coordinating")
            items.append(dict(id=r.id, state=r.state, window=r.window_id, staff=r.body["staff_name"],
                              matter=r.body["matter_name"], reasons="、".join(r.body.get("reasons") or []),
                              voted=show(from_db(r.voted_at)), due=show(due),
                              due_iso=due.isoformat(), countdown=text if running else "",
                              overdue=overdue and running, appeal=r.appeal,
                              phone=mask_phone(r.body.get("contact_phone")),
                              verified=r.calendar_verified))
        visible = [a for a in recent if actor.role == "supervisor"
                   or a.payload.get("window_id") == actor.window_id]
        return page(request, "cases.html", actor, items=items, show_closed=show_closed,
                    alerts=[dict(at=show(from_db(a.created_at)), **a.payload) for a in visible])

    def _case_or_404(conn, actor: Actor, case_id: int):
        row = casework.load_case(conn, case_id)
        if row is None or not (actor.role == "supervisor" or actor.window_id == row.window_id):
            raise Forbidden("没有这个工单，或它不属于您的窗口")
        return row

    @app.get("/cases/{case_id}", include_in_schema=False)
    def case_page(request: Request, case_id: int, error: str | None = None):
        actor = user(request)
        now = center.clock()
        with center.engine.connect() as conn:
            row = _case_or_404(conn, actor, case_id)
            log = casework.case_log_rows(conn, case_id)
        due = from_db(row.due_at)
        text, overdue = countdown(due, now)
        running = row.state in ("new", "verifying", "coordinating")
        return page(request, "case.html", actor, case=row, rec=row.body, log=log, error=error,
                    due=show(due), due_iso=due.isoformat(), countdown=text if running else "",
                    overdue=overdue and running, voted=show(from_db(row.voted_at)),
                    tablet_due=show(from_db(row.tablet_due_at)),
                    closed=show(from_db(row.closed_at)),
                    actions=available(casework.case_view(row), actor))

    @app.post("/cases/{case_id}/action", include_in_schema=False)
    def case_action(request: Request, case_id: int, action: str = Form(""), csrf: str = Form(""),
                    note: str = Form(""), feedback: str = Form(""), claim: str = Form("")):
        actor = user(request)
        _check_csrf(request, csrf)
        with center.engine.connect() as conn:
            _case_or_404(conn, actor, case_id)
        try:
            casework.act(center, case_id, action, actor, note=note, feedback=feedback, claim=claim)
        except CaseError as e:
            return case_page(request, case_id, error=str(e))
        return RedirectResponse(f"/cases/{case_id}", status_code=303)

    @app.get("/stats", include_in_schema=False)
    def stats_page(request: Request, start: str | None = None, end: str | None = None,
                   by: str = "window"):
        actor = user(request)
        s, e = _period(start, end, center.clock().astimezone(HALL_TZ).date())
        by = by if by in stats.GROUPS else "window"
        win = actor.window_id if actor.role == "handler" else None
        with center.engine.connect() as conn:
            rows = stats.summary(conn, s, e, by, win)
            points = stats.trend(conn, s, e, win)
        return page(request, "stats.html", actor, rows=rows, total=stats.totals(rows),
                    svg=stats.trend_svg(points, s, e), points=points, start=s, end=e, by=by,
                    groups=stats.GROUPS)

    @app.get("/devices", include_in_schema=False)
    def device_page(request: Request):
        actor = user(request)
        now = center.clock()
        q = select(devices).order_by(devices.c.hall_id, devices.c.window_id, devices.c.device_id)
        if actor.role == "handler":
            q = q.where(devices.c.window_id == actor.window_id)
        with center.engine.connect() as conn:
            rows = conn.execute(q).all()
        items = []
        for d in rows:
            hb = d.heartbeat or {}
            seen = from_db(d.heartbeat_at)
            seqs = devicefacts.seq_counts(d)
            items.append(dict(
                id=d.device_id, hall=d.hall_id, window=d.window_id, region=d.region_code,
                count=d.record_count, gaps=seqs.missing, repeated=seqs.repeated,
                conflicts=d.conflict_count, max_seq=d.max_seq,
                rejected=d.rejected_count, heartbeat=show(seen),
                silent=seen is None or (now - seen) > timedelta(minutes=15),
                pending=hb.get("pending"), oldest=hb.get("oldest_pending"),
                quarantined=hb.get("quarantined"), quarantined_ids=hb.get("quarantined_ids") or [],
                last_error=hb.get("last_error"), version=hb.get("version"),
                skew=d.clock_skew_s, clock_problem=hb.get("clock_problem"),
                skew_flagged=(d.heartbeat_at is not None and d.clock_skew_s is None) or bool(hb.get("clock_problem"))
                or (d.clock_skew_s is not None and abs(d.clock_skew_s) > center.cfg.clock_skew_warn_s),
                last_post=show(from_db(d.last_post_at))))
        return page(request, "devices.html", actor, items=items)

    @app.get("/devices/{device_id}/gaps", include_in_schema=False)
    def device_gaps(request: Request, device_id: str):
        """The missing seq ranges of one tablet (computed on demand)."""
        actor = user(request)
        prev = func.lag(records.c.seq).over(order_by=records.c.seq)
        inner = (select(records.c.seq.label("seq"), prev.label("prev"))
                 .where(records.c.device_id == device_id).subquery())
        q = select(inner.c.prev, inner.c.seq).where(inner.c.seq - func.coalesce(inner.c.prev, 0) > 1).limit(200)
        with center.engine.connect() as conn:
            d = conn.execute(select(devices).where(devices.c.device_id == device_id)).first()
            if d is None or not (actor.role == "supervisor" or actor.window_id == d.window_id):
                raise Forbidden("没有这台设备")
            gaps = [(int(p or 0) + 1, int(s) - 1) for p, s in conn.execute(q)]
            repeated = devicefacts.repeated_seqs(conn, device_id)
            conflicts = devicefacts.conflicts(conn, device_id)
        return page(request, "gaps.html", actor, device=d, gaps=gaps, repeated=repeated, conflicts=conflicts)

    def _export(request: Request, start, end, kind: str):
        actor = user(request)
        s, e = _period(start, end, center.clock().astimezone(HALL_TZ).date())
        win = actor.window_id if actor.role == "handler" else None
        name = f"hall-records-{s:%Y%m%d}-{e:%Y%m%d}.{kind}"
        gen = (export.csv_chunks if kind == "csv" else export.json_chunks)(center.engine, s, e, win)
        media = "text/csv; charset=utf-8" if kind == "csv" else "application/json"
        return StreamingResponse(gen, media_type=media,
                                 headers={"Content-Disposition": f'attachment; filename="{name}"'})

    @app.get("/export.csv", include_in_schema=False)
    def export_csv(request: Request, start: str | None = None, end: str | None = None) -> Response:
        return _export(request, start, end, "csv")

    @app.get("/export.json", include_in_schema=False)
    def export_json(request: Request, start: str | None = None, end: str | None = None) -> Response:
        return _export(request, start, end, "json")


__all__ = ["mount_dashboard", "session_secret"]
