"""What a case is about: the tablet's bad review (source "record") or the
综合点评 entry it came from (source "comment"). One join for every reader of
cases (the list, the case page, the deadline worker), and the few fields
pages and alerts show, whichever the source.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from hallcore.hallclock import from_db, show, stamp

from .comments import SOURCES, short_text
from .db import cases, comments, records

COMMENT = "comment"
# The entry's columns next to the case's, named so none clashes with a case column.
_COMMENT_COLUMNS = (
    comments.c.source.label("comment_source"), comments.c.verdict.label("comment_verdict"),
    comments.c.text.label("comment_text"), comments.c.matter_name.label("comment_matter_name"),
    comments.c.contact_phone.label("comment_phone"),
    comments.c.received_at.label("comment_received_at"),
    comments.c.entered_by.label("comment_entered_by"),
    comments.c.entered_at.label("comment_entered_at"),
)


def case_select():
    """SELECT cases with their record's body (None for an entry's case) and the entry's columns."""
    return (select(cases, records.c.body, *_COMMENT_COLUMNS)
            .select_from(cases.outerjoin(records, records.c.id == cases.c.record_id)
                         .outerjoin(comments, comments.c.id == cases.c.comment_id)))


def origin(row) -> str:
    """综合点评（热线电话） for an entry's case; empty for a tablet's."""
    if row.source != COMMENT:
        return ""
    return f"综合点评（{SOURCES.get(row.comment_source, row.comment_source)}）"


def subject(row) -> dict[str, Any]:
    """The list's and the alert's view of a case: who, what, why, the phone."""
    if row.source != COMMENT:
        rec = row.body
        return {"staff_id": rec["staff_id"], "staff_name": rec["staff_name"],
                "matter_name": rec["matter_name"], "reasons": list(rec.get("reasons") or []),
                "phone": rec.get("contact_phone"), "origin": ""}
    return {"staff_id": "", "staff_name": "", "matter_name": row.comment_matter_name or "",
            "reasons": [short_text(row.comment_text)],
            "phone": row.comment_phone, "origin": origin(row)}


def comment_of(row) -> dict[str, Any] | None:
    """The entry a case came from, for the case page (the phone in full, as for a record)."""
    if row.source != COMMENT:
        return None
    return {"id": row.comment_id, "source": SOURCES.get(row.comment_source, row.comment_source),
            "origin": origin(row), "text": row.comment_text, "matter_name": row.comment_matter_name,
            "phone": row.comment_phone, "received": show(from_db(row.comment_received_at)),
            "entered_by": row.comment_entered_by, "entered": show(from_db(row.comment_entered_at))}


def alert_payload(row, due_at: datetime) -> dict[str, Any]:
    """The alert about a case read with case_select (the deadline worker's)."""
    s = subject(row)
    out = {"record_id": row.record_id, "hall_id": row.hall_id, "window_id": row.window_id,
           "staff_id": s["staff_id"], "staff_name": s["staff_name"], "matter_name": s["matter_name"],
           "reasons": s["reasons"], "due_at": stamp(due_at)}
    if row.source == COMMENT:
        out.update(comment_id=row.comment_id, origin=s["origin"])
    return out


__all__ = ["COMMENT", "alert_payload", "case_select", "comment_of", "origin", "subject"]
