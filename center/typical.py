"""典型案例 in the database: a supervisor marks a case 表彰 or 通报 with a
public summary, edits it, or unmarks it; each step is a case_log line. The
rules (what a summary may hold, which cases may be published) are
center/disclosure.py; the public page reads the marks through
center/queries.py public_typical_cases.
"""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from hallcore.hallclock import to_db

from . import directory_db
from .cases import Actor, CaseError
from .casework import _log, load_case
from .db import typical_cases
from .disclosure import KINDS, case_staff_names, check_summary, publishable


def of_case(conn, case_id: int):
    """The case's mark (kind, summary, marked_by, marked_at), or None."""
    return conn.execute(select(typical_cases).where(typical_cases.c.case_id == case_id)).first()


def _private_words(row) -> list[str]:
    """What the citizen wrote on the case: never published, so never copied into a summary."""
    if row.body is not None:
        return [row.body.get("comment") or ""]
    return [row.comment_text or ""]


def _staff(row, d) -> tuple[list[str], list[str]]:
    """The case's staff member's names (the record's and the directory's) and id."""
    if not row.staff_id:
        return [], []
    return case_staff_names(d, row.staff_id, (row.body or {}).get("staff_name")), [row.staff_id]


def mark(center, case_id: int, actor: Actor, kind: str, summary: str) -> str:
    """Mark (or re-mark) a case as typical; the saved summary. Raises
    CaseError or disclosure.SummaryError with the reason, or KeyError for
    no such case."""
    if actor.role != "supervisor":
        raise CaseError("只有中心督办人员可以标记典型案例")
    if kind not in KINDS:
        raise CaseError("请选择典型案例的类别：表彰或通报")
    now = center.clock()
    with center.engine.begin() as conn:
        row = load_case(conn, case_id, lock=True)
        if row is None:
            raise KeyError(case_id)
        if not publishable(kind, row.appeal):
            raise CaseError("该差评经申诉复核不成立，不能作为通报案例公开")
        names, ids = ([], []) if center.cfg.public.staff_names else _staff(row, directory_db.load(conn))
        text = check_summary(summary, comments=_private_words(row), names=names, ids=ids)
        values = dict(kind=kind, summary=text, marked_by=actor.name, marked_at=to_db(now))
        before = of_case(conn, case_id)
        if before is None:
            conn.execute(insert(typical_cases).values(case_id=case_id, **values))
        else:
            conn.execute(update(typical_cases).where(typical_cases.c.case_id == case_id).values(**values))
        note = f"{KINDS[kind]}：{text}" if before is None else f"修改为{KINDS[kind]}：{text}"
        _log(conn, case_id, now, actor.name, "typical_mark", row.state, row.state, note)
    return text


def unmark(center, case_id: int, actor: Actor) -> bool:
    """Take a case off the public page; False if it was not marked."""
    if actor.role != "supervisor":
        raise CaseError("只有中心督办人员可以取消典型案例")
    now = center.clock()
    with center.engine.begin() as conn:
        row = load_case(conn, case_id, lock=True)
        if row is None:
            raise KeyError(case_id)
        gone = conn.execute(delete(typical_cases).where(typical_cases.c.case_id == case_id)).rowcount
        if gone:
            _log(conn, case_id, now, actor.name, "typical_unmark", row.state, row.state, None)
    return bool(gone)


__all__ = ["mark", "of_case", "unmark"]
