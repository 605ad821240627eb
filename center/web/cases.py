"""The bad-review cases: the open (or closed) list, one case, its actions
(center/handling.py: 当场裁定, 交办, 督办, 拟办意见, 整改结果, 回复结果, 回访,
二次评价, 体制机制, and cases.py's own), and for supervisors the 典型案例 mark
for the public page (center/typical.py)."""
from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from hallcore.hallclock import countdown, from_db, show
from hallcore.record import SCALES, mask_phone

from .. import casesource, casework, directory_db, queries, typical
from ..cases import RUNNING_STATES, Actor, CaseError, can_see
from ..channels import label as channel_label
from ..directory import Directory, department_label, staff_label, window_label
from ..disclosure import KINDS as TYPICAL_KINDS, MAX_SUMMARY, SummaryError
from ..handling import ITEM_STATES, RATING_LABELS, VISIT_METHODS, available
from ..service import Center
from .deps import CenterDep, CurrentActor, Forbidden, FormActor, SupervisorForm, page
from .forms import hall_date_at, hall_time, text, yes_no

router = APIRouter(include_in_schema=False)
LEVELS = SCALES[3].levels            # 满意 / 基本满意 / 不满意: 回访 and the phone 二次评价
# Who does what on the page: the window's own work, and the center's, each
# in the order a case is worked through.
OWN_ORDER = ("rule_on_spot", "verify", "propose", "rectify", "feedback", "close", "coordinate",
             "appeal")
CENTER_ORDER = ("assign", "supervise", "visit", "second_evaluation", "uphold", "reject_appeal",
                "close_structural")


@router.get("/")
def home():
    return RedirectResponse("/cases", status_code=303)


def _deadline(row, now) -> dict:
    due = from_db(row.due_at)
    text_, overdue = countdown(due, now)
    running = row.state in RUNNING_STATES
    return dict(due=show(due), due_iso=due.isoformat(), countdown=text_ if running else "",
                overdue=overdue and running)


def _who(d: Directory, row, staff_name: str) -> dict:
    """The case's window, staff member and department as pages show them (an
    entry's case may name no window and no staff member: shown as —)."""
    return dict(window=window_label(d, row.window_id) if row.window_id else "—",
                staff=staff_label(d, row.staff_id, staff_name) if row.staff_id else "—",
                department=department_label(d, row.window_id, row.department))


@router.get("/cases")
def open_cases(request: Request, actor: CurrentActor, center: CenterDep, show_closed: int = 0):
    now = center.clock()
    with center.engine.connect() as conn:
        rows = queries.case_list(conn, closed=bool(show_closed), scope=actor.scope)
        recent = queries.recent_dashboard_alerts(conn)
        d = directory_db.load(conn)
    items = []
    for r in rows:
        subj = casesource.subject(r)
        items.append(dict(id=r.id, state=r.state, matter=subj["matter_name"],
                          reasons="、".join(subj["reasons"]), origin=subj["origin"],
                          voted=show(from_db(r.voted_at)), appeal=r.appeal,
                          phone=mask_phone(subj["phone"]), verified=r.calendar_verified,
                          assigned=r.assigned_department, supervisions=r.supervision_count,
                          second=RATING_LABELS.get(r.second_rating), structural=r.structural,
                          **_who(d, r, subj["staff_name"]), **_deadline(r, now)))
    visible = [a for a in recent if can_see(actor, a.payload.get("window_id"))]
    return page(request, "cases.html", actor, items=items, show_closed=show_closed,
                alerts=[dict(at=show(from_db(a.created_at)), **a.payload) for a in visible])


def _case_in_scope(conn, actor: Actor, case_id: int):
    row = casework.load_case(conn, case_id)
    if row is None or not can_see(actor, row.window_id):
        raise Forbidden("没有这个工单，或它不属于您的窗口")
    return row


def _case_page(request: Request, actor: Actor, center: Center, case_id: int,
               error: str | None = None, form: dict | None = None, status: int = 200):
    now = center.clock()
    with center.engine.connect() as conn:
        row = _case_in_scope(conn, actor, case_id)
        log = casework.case_log_rows(conn, case_id)
        d = directory_db.load(conn)
        notices = queries.case_supervisions(conn, case_id)
        second = queries.case_second_evaluation(conn, case_id)
        items = queries.case_rectification_items(conn, case_id)
        mark = typical.of_case(conn, case_id) if actor.role == "supervisor" else None
    coord = center.deadlines.coordination(from_db(row.voted_at)).due_at
    actions = available(casework.case_view(row, d), actor, now=now, coordination_due=coord)
    return page(
        request, "case.html", actor, case=row, rec=row.body, log=log, error=error, form=form or {},
        comment=casesource.comment_of(row),
        voted=show(from_db(row.voted_at)), tablet_due=show(from_db(row.tablet_due_at)),
        closed=show(from_db(row.closed_at)), coordination_due=show(coord),
        own_actions=[a for a in OWN_ORDER if a in actions],
        center_actions=[a for a in CENTER_ORDER if a in actions],
        notices=[dict(kind="交办" if n.kind == "assign" else "督办", content=n.content,
                      issued=show(from_db(n.issued_at)), department=n.department,
                      warning_code=n.warning_code or "", due=show(from_db(n.due_at)), actor=n.actor)
                 for n in notices],
        second=second and dict(rating=RATING_LABELS.get(second.rating, second.rating),
                               code=second.satisfaction_code, bad=second.bad,
                               channel=channel_label(second.channel), at=show(from_db(second.at)),
                               actor=second.actor),
        items=[dict(id=i.id, state=ITEM_STATES.get(i.state, i.state), cause=i.cause) for i in items],
        times={k: show(from_db(getattr(row, k))) for k in (
            "assigned_at", "last_supervised_at", "proposed_at", "rectified_at", "reply_told_at",
            "visited_at", "handled_at")},
        visit_method=VISIT_METHODS.get(row.visit_method or "", ""),
        visit_satisfaction=RATING_LABELS.get(row.visit_satisfaction or "", ""),
        department_names=sorted({e.name for e in d.departments.values()}),
        typical=mark, typical_kinds=TYPICAL_KINDS, max_summary=MAX_SUMMARY,
        public_staff_names=center.cfg.public.staff_names,
        typical_marked=show(from_db(mark.marked_at)) if mark else "",
        visit_methods=VISIT_METHODS, levels=LEVELS, **_who(d, row, casesource.subject(row)["staff_name"]), **_deadline(row, now),
        status=status)


@router.get("/cases/{case_id}")
def case_page(request: Request, actor: CurrentActor, center: CenterDep, case_id: int):
    return _case_page(request, actor, center, case_id)


def _inputs(center: Center, action: str, f: dict[str, str]) -> dict:
    """The form's fields as handling.apply takes them for `action`."""
    t = {k: text(v) for k, v in f.items()}
    if action in ("verify", "coordinate", "appeal", "uphold", "reject_appeal", "rule_on_spot",
                  "propose", "rectify"):
        return dict(note=t["note"], claim=t["claim"])
    if action in ("feedback", "close"):
        return dict(note=t["note"], feedback=t["feedback"],
                    told_at=hall_time(f["told_at"], "告知群众时间"))
    if action == "assign":
        return dict(department=t["department"], content=t["content"], warning_code=t["warning_code"],
                    deadline=hall_time(f["deadline"], "交办期限"))
    if action == "supervise":
        return dict(department=t["department"], content=t["content"], warning_code=t["warning_code"])
    if action == "visit":
        reached = yes_no(f["reached"], "是否联系上群众")
        return dict(method=t["method"], at=hall_time(f["at"], "回访时间"), reached=reached,
                    satisfaction=t["satisfaction"] if reached else None, note=t["note"])
    if action == "second_evaluation":
        return dict(rating=t["rating"], scale=3)
    if action == "close_structural":
        return dict(note=t["note"], content=t["content"], department=t["department"],
                    target_at=hall_date_at(f["target_at"], center.cfg.closing, "整改期限"))
    return {}


@router.post("/cases/{case_id}/action")
def case_action(request: Request, actor: FormActor, center: CenterDep, case_id: int,
                action: Annotated[str, Form()] = "", note: Annotated[str, Form()] = "",
                feedback: Annotated[str, Form()] = "", claim: Annotated[str, Form()] = "",
                told_at: Annotated[str, Form()] = "", department: Annotated[str, Form()] = "",
                content: Annotated[str, Form()] = "", warning_code: Annotated[str, Form()] = "",
                deadline: Annotated[str, Form()] = "", method: Annotated[str, Form()] = "",
                at: Annotated[str, Form()] = "", reached: Annotated[str, Form()] = "",
                satisfaction: Annotated[str, Form()] = "", rating: Annotated[str, Form()] = "",
                target_at: Annotated[str, Form()] = ""):
    f = dict(note=note, feedback=feedback, claim=claim, told_at=told_at, department=department,
             content=content, warning_code=warning_code, deadline=deadline, method=method, at=at,
             reached=reached, satisfaction=satisfaction, rating=rating, target_at=target_at)
    with center.engine.connect() as conn:
        _case_in_scope(conn, actor, case_id)
    try:
        casework.act(center, case_id, action, actor, **_inputs(center, action, f))
    except CaseError as e:
        return _case_page(request, actor, center, case_id, error=str(e),
                          form=dict(f, action=action), status=422)
    return RedirectResponse(f"/cases/{case_id}", status_code=303)


@router.post("/cases/{case_id}/typical")
def mark_typical(request: Request, actor: SupervisorForm, center: CenterDep, case_id: int,
                 kind: Annotated[str, Form()] = "", summary: Annotated[str, Form()] = ""):
    """Mark the case 表彰 or 通报 for the public page, or change its summary."""
    with center.engine.connect() as conn:
        _case_in_scope(conn, actor, case_id)
    try:
        typical.mark(center, case_id, actor, kind, summary)
    except (CaseError, SummaryError) as e:
        return _case_page(request, actor, center, case_id, error=str(e),
                          form=dict(action="typical", kind=kind, summary=summary), status=422)
    request.app.state.public_cache.clear()
    return RedirectResponse(f"/cases/{case_id}#typical", status_code=303)


@router.post("/cases/{case_id}/typical/remove")
def unmark_typical(request: Request, actor: SupervisorForm, center: CenterDep, case_id: int):
    """Take the case off the public page."""
    with center.engine.connect() as conn:
        _case_in_scope(conn, actor, case_id)
    typical.unmark(center, case_id, actor)
    request.app.state.public_cache.clear()
    return RedirectResponse(f"/cases/{case_id}#typical", status_code=303)
