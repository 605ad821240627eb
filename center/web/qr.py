"""The citizen's QR rating page (public, no login): GET /r shows the 办件's
matters, POST /r rates one. The check code (center/qrcheck.py) and the
one-time rule (center/qrpage.py) protect it instead of a session and CSRF
token: a form can only rate what the printed code names, once."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse

from hallcore.record import DEFAULT_BAD_REVIEW_REASONS, scale

from .. import qrpage
from ..qrcheck import QrError, QrFields, parse_query, verify_any
from ..service import Center
from .deps import TEMPLATES

router = APIRouter(tags=["qr"])
FORGED = "二维码校验未通过：该链接不是本中心发出的，或已被改动。请扫描办件回执上的原始二维码。"


def _center(request: Request) -> Center:
    return request.app.state.center


def _page(request: Request, name: str, status: int = 200, **ctx) -> HTMLResponse:
    return TEMPLATES.TemplateResponse(request, name, dict(ctx, request=request), status_code=status)


def refusal(request: Request, message: str, status: int) -> HTMLResponse:
    return _page(request, "qr_refused.html", status, message=message,
                 title="已评价" if status == 409 else "无法评价")


class CodeRefused(Exception):
    def __init__(self, message: str):
        self.message = message


def verified(request: Request) -> QrFields:
    """The URL's fields if its check code verifies under the hall's secrets."""
    try:
        fields, code = parse_query(request.url.query)
    except QrError as e:
        raise CodeRefused(f"二维码链接不完整或格式不正确：{e.message}") from None
    secrets = request.app.state.qr_secrets.get(fields.hall_id, ())
    if not verify_any(secrets, fields, code):
        raise CodeRefused(FORGED)
    return fields


Verified = Annotated[QrFields, Depends(verified)]
CenterDep = Annotated[Center, Depends(_center)]


def _show(request: Request, center: Center, fields: QrFields, *, status: int = 200, done: str | None = None,
          error: str | None = None) -> HTMLResponse:
    with center.engine.connect() as conn:
        matters = qrpage.matters_of(fields, qrpage.known(conn, fields))
    return _page(request, "qr.html", status, fields=fields, matters=matters, query=request.url.query,
                 levels=scale(qrpage.SCALE).levels, reasons=DEFAULT_BAD_REVIEW_REASONS, done=done, error=error)


@router.get("/r", response_class=HTMLResponse)
def qr_page(request: Request, fields: Verified, center: CenterDep):
    """The 办件's matters, each with its rating form or 已评价."""
    return _show(request, center, fields)


@router.post("/r", response_class=HTMLResponse)
def qr_rate(request: Request, fields: Verified, center: CenterDep,
            matter: Annotated[str, Form(max_length=64)] = "",
            rating: Annotated[str, Form(max_length=32)] = "",
            reasons: Annotated[list[str], Form()] = [],
            comment: Annotated[str, Form(max_length=500)] = ""):
    """Rate one matter; 409 with 已评价 when it was rated already."""
    try:
        level = scale(qrpage.SCALE).level(rating)
    except KeyError:
        return _show(request, center, fields, status=422, error="请选择 满意、基本满意 或 不满意")
    picked = [r for r in dict.fromkeys(reasons) if r in DEFAULT_BAD_REVIEW_REASONS]
    if level.bad and not picked:
        return _show(request, center, fields, status=422, error="选择“不满意”时，请至少勾选一项原因")
    try:
        qrpage.rate(center, fields, matter, rating, picked, comment.strip() or None)
    except qrpage.Refused as e:
        return refusal(request, e.message, e.status)
    return _show(request, center, fields, done=f"感谢您的评价！已记录：{level.label}")


def install(app) -> None:
    """The router, the hall secrets, and the refusal page for a bad code (403)."""
    app.state.qr_secrets = qrpage.load_secrets(app.state.center.cfg.qr_secrets_file)
    app.include_router(router)

    @app.exception_handler(CodeRefused)
    async def _refused(request: Request, exc: CodeRefused):
        return refusal(request, exc.message, 403)
