"""Login and logout."""
from __future__ import annotations

import secrets
import time as _time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from .. import queries
from ..auth import check_password
from .deps import CenterDep, FormActor, check_csrf, page

router = APIRouter(include_in_schema=False)
LOGIN_FAIL_DELAY_S = 0.5


@router.get("/login")
def login_form(request: Request):
    return page(request, "login.html", None, error=None)


@router.post("/login")
def login(request: Request, center: CenterDep, name: Annotated[str, Form()] = "",
          password: Annotated[str, Form()] = "", csrf: Annotated[str, Form()] = ""):
    check_csrf(request, csrf)
    with center.engine.connect() as conn:
        u = queries.user_by_name(conn, name[:64])
    if u is None or not check_password(password, u.password_hash):
        _time.sleep(LOGIN_FAIL_DELAY_S)   # slows guessing; the KDF does the rest
        return page(request, "login.html", None, error="用户名或密码错误", status=401)
    request.session.clear()
    request.session["user"] = u.name
    request.session["csrf"] = secrets.token_urlsafe(24)   # new session, new token
    return RedirectResponse("/cases", status_code=303)


@router.post("/logout")
def logout(request: Request, _actor: FormActor):
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
