"""The staff dashboard: server-rendered Chinese HTML (Jinja2), one router per area.

auth (login, logout), cases, comments (综合点评), stats, report (绩效考核报表),
devices, export, and
for supervisors supervision (监督查评), rectification (整改重点), directory
(部门窗口目录), upstream (省平台上报) and flags (异常标记, never shown to the
staff they concern); and qr, the citizen's public QR rating page, and
public, the 面向社会公开 page (both without login). Every
handler gets the logged-in actor and its scope from one dependency
(deps.CurrentActor; deps.Supervisor for the supervisors' pages):
handlers see their own window, supervisors everything. Sessions live in the
database (center/sessions.py); the SQL is in center/queries.py. The page
script and style sheet are static files (no inline script: the
Content-Security-Policy of web/headers.py forbids it). The call-back phone
is shown unmasked only on the case page.
"""
from __future__ import annotations


from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from fastapi.staticfiles import StaticFiles

from hallcore.packagedata import shipped

from .. import sessions
from ..sessions import SessionPolicy
from ..throttle import LoginThrottle
from . import (
    auth, cases, comments, devices, directory, export, flags, public, qr, rectification, report, stats,
    supervision, upstream,
)
from .deps import Dashboard, Forbidden, NotLoggedIn, page
from .hashing import PasswordChecks
from .headers import SecurityHeaders
from .secret import session_secret

ROUTERS = (auth.router, cases.router, comments.router, supervision.router, stats.router,
           report.router, devices.router, export.router, rectification.router, directory.router,
           upstream.router, flags.router)
STATIC = shipped("center", "static")


def mount_dashboard(app: FastAPI, center) -> None:
    cfg = center.cfg
    app.state.dashboard = Dashboard(
        secret=session_secret(cfg.session_secret_file).encode(),
        policy=SessionPolicy(idle_s=cfg.session_idle_s, max_s=cfg.session_max_s),
        throttle=LoginThrottle(), passwords=PasswordChecks(), secure_cookies=cfg.secure_cookies)
    for router in ROUTERS:
        app.include_router(router)
    qr.install(app)
    public.install(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.exception_handler(NotLoggedIn)
    async def _to_login(request: Request, _exc: NotLoggedIn):
        resp = RedirectResponse("/login", status_code=303)
        if sessions.COOKIE in request.cookies:
            resp.delete_cookie(sessions.COOKIE, path="/")
        return resp

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return page(request, "message.html", None, title="无法完成", message=str(exc), status=403)


__all__ = ["SecurityHeaders", "mount_dashboard"]
