"""整改重点: the rectification list of structural problems, for supervisors:
every entry with its state and deadline (overdue in red), and the steps that
track it to done (center/handling.py item_apply, center/rectification.py)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from hallcore.hallclock import from_db, show

from .. import queries, rectification
from ..cases import Actor, CaseError
from ..handling import ITEM_ACTIONS, ITEM_STATES, item_available, item_overdue
from ..service import Center
from .deps import CenterDep, Forbidden, Supervisor, SupervisorForm, page
from .forms import hall_date_at, text

router = APIRouter(include_in_schema=False)


def _item(row, now) -> dict:
    return dict(id=row.id, case_id=row.case_id, state=row.state, state_label=ITEM_STATES[row.state],
                cause=row.cause, department=row.department, opened=show(from_db(row.opened_at)),
                target=show(from_db(row.target_at)), plan=row.plan or "", result=row.result or "",
                started=show(from_db(row.started_at)), done=show(from_db(row.done_at)),
                overdue=item_overdue(rectification.item_view(row), now))


@router.get("/rectification")
def rectification_list(request: Request, actor: Supervisor, center: CenterDep, done: int = 0):
    now = center.clock()
    with center.engine.connect() as conn:
        rows = queries.rectification_list(conn, done=bool(done))
    items = [_item(r, now) for r in rows]
    return page(request, "rectification.html", actor, items=items, done=done,
                overdue=sum(1 for i in items if i["overdue"]))


def _item_page(request: Request, actor: Actor, center: Center, item_id: int,
               error: str | None = None, form: dict | None = None, status: int = 200):
    now = center.clock()
    with center.engine.connect() as conn:
        row = rectification.load_item(conn, item_id)
        if row is None:
            raise Forbidden("没有这个整改重点条目")
        log = queries.rectification_item_log(conn, item_id)
    return page(request, "rectification_item.html", actor, item=_item(row, now), error=error,
                form=form or {}, item_actions=ITEM_ACTIONS, state_names=ITEM_STATES,
                actions=item_available(rectification.item_view(row), actor, now=now),
                log=[dict(at=show(from_db(r.at)), actor=r.actor,
                          action=rectification.LOG_LABELS.get(r.action, r.action),
                          to=ITEM_STATES.get(r.to_state, r.to_state), note=r.note or "") for r in log],
                status=status)


@router.get("/rectification/{item_id}")
def rectification_item(request: Request, actor: Supervisor, center: CenterDep, item_id: int):
    return _item_page(request, actor, center, item_id)


@router.post("/rectification/{item_id}/action")
def rectification_action(request: Request, actor: SupervisorForm, center: CenterDep, item_id: int,
                         action: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                         department: Annotated[str, Form()] = "",
                         target_at: Annotated[str, Form()] = ""):
    form = dict(action=action, note=note, department=department, target_at=target_at)
    try:
        rectification.act(center, item_id, action, actor, note=text(note), department=text(department),
                          target_at=hall_date_at(target_at, center.cfg.closing, "整改期限"))
    except KeyError:
        raise Forbidden("没有这个整改重点条目") from None
    except CaseError as e:
        return _item_page(request, actor, center, item_id, error=str(e), form=form, status=422)
    return RedirectResponse(f"/rectification/{item_id}", status_code=303)
