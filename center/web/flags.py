"""异常标记 (supervisors only): the anomaly flags the scan raised
(center/flagwork.py), each with its evidence records, and dismissing one
with a required note.

A flag is never shown to the staff member it concerns: handlers are
refused the pages, and a supervisor who is the flag's staff member (by
login name or users.staff_id; anomalies.visible_to) sees neither it in the
lists nor its page, and cannot dismiss it. Phone numbers appear only as the
rules wrote them, masked; the evidence shows none.
"""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from .. import flagwork
from .deps import CenterDep, Forbidden, page, supervisors_only

router = APIRouter(include_in_schema=False)

FlagSupervisor, FlagSupervisorForm = supervisors_only("异常标记仅限中心督办人员查看")
VIEWS = {"open": ("open",), "dismissed": ("dismissed",)}


@router.get("/flags")
def flags_page(request: Request, actor: FlagSupervisor, center: CenterDep, state: str = "open",
               done: int | None = None):
    states = VIEWS.get(state)
    if states is None:
        raise Forbidden("没有这个分类")
    with center.engine.connect() as conn:
        rows = flagwork.flag_rows(conn, actor, states=states)
        flags = flagwork.views(conn, rows)
    return page(request, "flags.html", actor, flags=flags, state=state,
                limit=flagwork.MAX_LISTED, shown=flagwork.EVIDENCE_ON_LIST,
                period_days=center.cfg.anomalies.period_days, done=done)


def _flag_page(request, actor, center, flag_id: int, *, error=None, note="", status=200):
    with center.engine.connect() as conn:
        row = flagwork.flag_row(conn, flag_id, actor)
        if row is None:
            raise Forbidden("没有这个标记")
        (flag,) = flagwork.views(conn, [row], evidence_limit=None)
    return page(request, "flag.html", actor, flag=flag, error=error, note=note,
                max_shown=flagwork.MAX_EVIDENCE_SHOWN, max_note=flagwork.MAX_NOTE, status=status)


@router.get("/flags/{flag_id}")
def flag_page(request: Request, actor: FlagSupervisor, center: CenterDep, flag_id: int):
    return _flag_page(request, actor, center, flag_id)


@router.post("/flags/{flag_id}/dismiss")
def dismiss(request: Request, actor: FlagSupervisorForm, center: CenterDep, flag_id: int,
            note: Annotated[str, Form()] = ""):
    try:
        flagwork.dismiss(center, flag_id, actor, note)
    except flagwork.FlagError as e:
        return _flag_page(request, actor, center, flag_id, error=f"未排除：{e}", note=note, status=422)
    return RedirectResponse(f"/flags?done={flag_id}", status_code=303)
