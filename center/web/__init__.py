"""The staff dashboard: server-rendered Chinese HTML (Jinja2), one router per area.

auth (login, logout), cases, stats, devices, export. Every handler gets the
logged-in actor and its scope from one dependency (deps.CurrentActor):
handlers see their own window, supervisors everything. The SQL is in
center/queries.py. The call-back phone is shown unmasked only on the case page.
"""
from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.middleware.sessions import SessionMiddleware

from . import auth, cases, devices, export, stats
from .deps import Forbidden, NotLoggedIn, page
from .secret import session_secret

ROUTERS = (auth.router, cases.router, stats.router, devices.router, export.router)


def mount_dashboard(app: FastAPI, center) -> None:
    app.add_middleware(SessionMiddleware, secret_key=session_secret(center.cfg.session_secret_file),
                       session_cookie="hall_center", max_age=12 * 3600, same_site="strict",
                       https_only=center.cfg.secure_cookies)
    for router in ROUTERS:
        app.include_router(router)

    @app.exception_handler(NotLoggedIn)
    async def _to_login(_request: Request, _exc: NotLoggedIn):
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    async def _forbidden(request: Request, exc: Forbidden):
        return page(request, "message.html", None, title="无法完成", message=str(exc), status=403)


__all__ = ["mount_dashboard"]
