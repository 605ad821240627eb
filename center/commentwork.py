"""综合点评 in the database: entering what staff received (rules in
center/comments.py), the case a 差评 entry opens (like a tablet's, through
casework.insert_case), and the list of entries."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping

from sqlalchemy import insert, select

from hallcore.hallclock import hall_zone, stamp, to_db

from .cases import Actor
from .casework import insert_case
from .comments import SOURCES, CommentCheck, case_fields, case_note, check_comment, short_text
from .db import cases, comments

MAX_LIST_ROWS = 500


@dataclass(frozen=True)
class Entered:
    comment_id: int
    case_id: int | None        # the case a 差评 entry opened


def _scoped(form: Mapping[str, Any], actor: Actor) -> tuple[dict[str, Any], dict[str, str]]:
    """A handler enters what concerns their own window: an empty window is
    theirs, another window is refused (the case would go where they cannot
    follow it). Supervisors enter for any window, or none."""
    form = dict(form)
    scope = actor.scope
    if scope is None:
        return form, {}
    raw = form.get("window_id")
    window = raw.strip() if isinstance(raw, str) else raw
    if not window:
        form["window_id"] = scope
        return form, {}
    if window != scope:
        return form, {"window_id": f"只能登记本窗口（{scope}）的点评"}
    return form, {}


def enter(center, form: Mapping[str, Any], actor: Actor) -> CommentCheck | Entered:
    """Store an entry (and its case when it is a 差评), or the errors by field
    (nothing stored)."""
    now = center.clock()
    form, scope_errors = _scoped(form, actor)
    check = check_comment(form, now=now)
    if scope_errors or check.errors:
        return CommentCheck(None, {**check.errors, **scope_errors})
    clean = check.clean
    with center.engine.begin() as conn:
        comment_id = conn.execute(insert(comments).returning(comments.c.id), dict(
            source=clean["source"], verdict=clean["verdict"], negative=clean["negative"],
            text=clean["text"], department=clean["department"], window_id=clean["window_id"],
            matter_code=clean["matter_code"], matter_name=clean["matter_name"],
            contact_phone=clean["contact_phone"], received_at=to_db(clean["received_at"]),
            entered_by=actor.name, entered_at=to_db(now))).scalar_one()
        case_id = None
        if clean["negative"]:
            case_id = _open_case(conn, center, comment_id, clean, now)
    return Entered(comment_id, case_id)


def _open_case(conn, center, comment_id: int, clean: Mapping[str, Any], now: datetime) -> int:
    f = case_fields(clean, handling_due=center.deadlines.handling)
    department = f["department"] or (center.cfg.department(f["window_id"]) if f["window_id"] else "")
    values = dict(
        source=f["source"], comment_id=comment_id, record_id=None, hall_id="",
        window_id=f["window_id"], department=department, staff_id=f["staff_id"],
        matter_code=f["matter_code"], state=f["state"], voted_at=to_db(f["voted_at"]),
        due_at=to_db(f["due_at"]), calendar_verified=f["calendar_verified"], tablet_due_at=None,
        appeal=f["appeal"], due_alerted=f["due_alerted"], escalated=f["escalated"],
        updated_at=to_db(now))
    note = case_note(clean)
    payload = {"record_id": None, "comment_id": comment_id, "hall_id": "",
               "window_id": f["window_id"], "staff_id": "", "staff_name": "",
               "matter_name": clean["matter_name"] or "", "reasons": [short_text(clean["text"])],
               "origin": f"综合点评（{SOURCES[clean['source']]}）", "due_at": stamp(f["due_at"])}
    return insert_case(conn, center, values, payload, now, note)


def _day_start(d: date):
    return to_db(datetime.combine(d, time(0), tzinfo=hall_zone()))


def _entry_select():
    return (select(comments, cases.c.id.label("case_id"), cases.c.state.label("case_state"))
            .select_from(comments.outerjoin(cases, cases.c.comment_id == comments.c.id)))


def entry(conn, comment_id: int, scope: str | None):
    """One entry with its case, or None (also when outside the actor's scope)."""
    q = _entry_select().where(comments.c.id == comment_id)
    if scope is not None:
        q = q.where(comments.c.window_id == scope)
    return conn.execute(q).first()


def entry_list(conn, *, start: date, end: date, scope: str | None, source: str | None = None,
               verdict: str | None = None, window_id: str | None = None):
    """Entries received on hall days start..end, newest first, with their case."""
    q = (_entry_select()
         .where(comments.c.received_at >= _day_start(start),
                comments.c.received_at < _day_start(end + timedelta(days=1)))
         .order_by(comments.c.received_at.desc(), comments.c.id.desc()))
    if scope is not None:
        q = q.where(comments.c.window_id == scope)
    if source:
        q = q.where(comments.c.source == source)
    if verdict:
        q = q.where(comments.c.verdict == verdict)
    if window_id:
        q = q.where(comments.c.window_id == window_id)
    return conn.execute(q.limit(MAX_LIST_ROWS)).all()


__all__ = ["Entered", "enter", "entry", "entry_list"]
