"""社会各界"综合点评": staff enter what arrives through the 意见箱, the 热线电话
and the 形象监督员 (center/commentwork.py); a 差评 entry opens a case like a
tablet's bad review. The list of entries with filters."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from hallcore.hallclock import from_db, in_hall, show
from hallcore.record import mask_phone

from .. import commentwork
from ..comments import SOURCES, VERDICTS, CommentCheck
from .deps import CenterDep, CurrentActor, FormActor, Period, page

router = APIRouter(include_in_schema=False)


def _shown(r) -> dict:
    return dict(id=r.id, source=SOURCES.get(r.source, r.source), verdict=r.verdict,
                verdict_label=VERDICTS.get(r.verdict, r.verdict), text=r.text,
                department=r.department or "", window=r.window_id or "",
                matter=r.matter_name or r.matter_code or "", phone=mask_phone(r.contact_phone),
                received=show(from_db(r.received_at)), entered_by=r.entered_by,
                case_id=r.case_id, case_state=r.case_state)


def _entries(center, actor, period, source, verdict, window):
    s, e = period
    with center.engine.connect() as conn:
        rows = commentwork.entry_list(conn, start=s, end=e, scope=actor.scope,
                                      source=source if source in SOURCES else None,
                                      verdict=verdict if verdict in VERDICTS else None,
                                      window_id=window or None)
    return [_shown(r) for r in rows]


def _page(request, actor, center, period, *, form=None, errors=None, entered=None, status=200,
          source="", verdict="", window=""):
    s, e = period
    now = in_hall(center.clock())
    form = dict(form or {})
    form.setdefault("received_at", now.strftime("%Y-%m-%dT%H:%M"))
    if actor.scope is not None:
        form.setdefault("window_id", actor.scope)
    return page(request, "comments.html", actor, form=form, errors=errors or {}, entered=entered,
                sources=SOURCES, verdicts=VERDICTS, start=s, end=e, status=status,
                entries=_entries(center, actor, period, source, verdict, window),
                f_source=source, f_verdict=verdict, f_window=window,
                max_received=now.strftime("%Y-%m-%dT%H:%M"))


@router.get("/comments")
def comments_page(request: Request, actor: CurrentActor, center: CenterDep, period: Period,
                  source: str = "", verdict: str = "", window: str = "", entered: int = 0):
    shown = None
    if entered:
        with center.engine.connect() as conn:
            row = commentwork.entry(conn, entered, actor.scope)
        shown = _shown(row) if row is not None else None
    return _page(request, actor, center, period, entered=shown, source=source, verdict=verdict,
                 window=window)


@router.post("/comments")
def enter_comment(request: Request, actor: FormActor, center: CenterDep, period: Period,
                  source: Annotated[str, Form()] = "", verdict: Annotated[str, Form()] = "",
                  text: Annotated[str, Form()] = "", received_at: Annotated[str, Form()] = "",
                  department: Annotated[str, Form()] = "", window_id: Annotated[str, Form()] = "",
                  matter_code: Annotated[str, Form()] = "", matter_name: Annotated[str, Form()] = "",
                  contact_phone: Annotated[str, Form()] = ""):
    form = dict(source=source, verdict=verdict, text=text, received_at=received_at,
                department=department, window_id=window_id, matter_code=matter_code,
                matter_name=matter_name, contact_phone=contact_phone)
    result = commentwork.enter(center, form, actor)
    if isinstance(result, CommentCheck):
        return _page(request, actor, center, period, form=form, errors=result.errors, status=422)
    return RedirectResponse(f"/comments?entered={result.comment_id}", status_code=303)
