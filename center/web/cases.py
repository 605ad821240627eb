"""The bad-review cases: the open (or closed) list, one case, its actions."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from hallcore.hallclock import countdown, from_db, show
from hallcore.record import mask_phone

from .. import casesource, casework, queries
from ..cases import RUNNING_STATES, Actor, CaseError, available, can_see
from ..service import Center
from .deps import CenterDep, CurrentActor, Forbidden, FormActor, page

router = APIRouter(include_in_schema=False)


@router.get("/")
def home():
    return RedirectResponse("/cases", status_code=303)


def _deadline(row, now) -> dict:
    due = from_db(row.due_at)
    text, overdue = countdown(due, now)
    running = row.state in RUNNING_STATES
    return dict(due=show(due), due_iso=due.isoformat(), countdown=text if running else "",
                overdue=overdue and running)


@router.get("/cases")
def open_cases(request: Request, actor: CurrentActor, center: CenterDep, show_closed: int = 0):
    now = center.clock()
    with center.engine.connect() as conn:
        rows = queries.case_list(conn, closed=bool(show_closed), scope=actor.scope)
        recent = queries.recent_dashboard_alerts(conn)
    items = []
    for r in rows:
        subj = casesource.subject(r)
        items.append(dict(id=r.id, state=r.state, window=r.window_id, staff=subj["staff_name"],
                          matter=subj["matter_name"], reasons="、".join(subj["reasons"]),
                          origin=subj["origin"], voted=show(from_db(r.voted_at)), appeal=r.appeal,
                          phone=mask_phone(subj["phone"]), verified=r.calendar_verified,
                          **_deadline(r, now)))
    visible = [a for a in recent if can_see(actor, a.payload.get("window_id"))]
    return page(request, "cases.html", actor, items=items, show_closed=show_closed,
                alerts=[dict(at=show(from_db(a.created_at)), **a.payload) for a in visible])


def _case_in_scope(conn, actor: Actor, case_id: int):
    row = casework.load_case(conn, case_id)
    if row is None or not can_see(actor, row.window_id):
        raise Forbidden("没有这个工单，或它不属于您的窗口")
    return row


def _case_page(request: Request, actor: Actor, center: Center, case_id: int, error: str | None = None):
    with center.engine.connect() as conn:
        row = _case_in_scope(conn, actor, case_id)
        log = casework.case_log_rows(conn, case_id)
    return page(request, "case.html", actor, case=row, rec=row.body, log=log, error=error,
                comment=casesource.comment_of(row),
                voted=show(from_db(row.voted_at)), tablet_due=show(from_db(row.tablet_due_at)),
                closed=show(from_db(row.closed_at)),
                actions=available(casework.case_view(row), actor), **_deadline(row, center.clock()))


@router.get("/cases/{case_id}")
def case_page(request: Request, actor: CurrentActor, center: CenterDep, case_id: int):
    return _case_page(request, actor, center, case_id)


@router.post("/cases/{case_id}/action")
def case_action(request: Request, actor: FormActor, center: CenterDep, case_id: int,
                action: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                feedback: Annotated[str, Form()] = "", claim: Annotated[str, Form()] = ""):
    with center.engine.connect() as conn:
        _case_in_scope(conn, actor, case_id)
    try:
        casework.act(center, case_id, action, actor, note=note, feedback=feedback, claim=claim)
    except CaseError as e:
        return _case_page(request, actor, center, case_id, error=str(e))
    return RedirectResponse(f"/cases/{case_id}", status_code=303)
