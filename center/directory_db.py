"""The directory in the database: reading it as a directory.Directory and
writing an import's or an edit's result (the rules are center/directory.py).

One transaction per change: the tables go from one checked directory to the
next, parents added before their children and children removed before their
parents, so the foreign keys hold at every statement.
"""
from __future__ import annotations

from sqlalchemy import delete, insert, select, update

from .db import departments, staff, windows
from .directory import Directory, DirectoryDiff, from_mappings

CHUNK = 500        # ids per DELETE … IN (…): well under SQLite's bound-parameter limit
# the column naming the parent of each kind, and the Entry key it maps to
PARENT_COLUMN = {"window": "department_id", "staff": "window_id"}


def load(conn) -> Directory:
    deps = [dict(id=r.id, name=r.name) for r in conn.execute(select(departments))]
    wins = [dict(id=r.id, name=r.name, department=r.department_id) for r in conn.execute(select(windows))]
    people = [dict(id=r.id, name=r.name, window=r.window_id) for r in conn.execute(select(staff))]
    return from_mappings(deps, wins, people)


def staff_of_window(conn, window_id: str, limit: int) -> list[tuple[str, str]]:
    """(id, name) of the window's staff, by id: who the tablets there show (center/bundle.py)."""
    return [(r.id, r.name) for r in conn.execute(
        select(staff.c.id, staff.c.name).where(staff.c.window_id == window_id).order_by(staff.c.id).limit(limit))]


def _row(e) -> dict:
    row = {"id": e.id, "name": e.name}
    if e.kind in PARENT_COLUMN:
        row[PARENT_COLUMN[e.kind]] = e.parent
    return row


def _table(kind: str):
    return {"department": departments, "window": windows, "staff": staff}[kind]


def write(conn, change: DirectoryDiff) -> None:
    """Apply a diff made against the directory `load` returned in this
    transaction (the caller holds it, so nothing changed in between)."""
    # additions and changes, parents first (a window may move to a department
    # this change adds); then removals, children first: nothing left names them
    for kind in ("department", "window", "staff"):
        t = _table(kind)
        added = [_row(d.after) for d in change.added if d.kind == kind]
        if added:
            conn.execute(insert(t), added)
        for d in change.changed:
            if d.kind == kind:
                values = _row(d.after)
                conn.execute(update(t).where(t.c.id == values.pop("id")).values(**values))
    for kind in ("staff", "window", "department"):
        ids = [d.id for d in change.removed if d.kind == kind]
        t = _table(kind)
        for i in range(0, len(ids), CHUNK):
            conn.execute(delete(t).where(t.c.id.in_(ids[i:i + CHUNK])))


def counts(d: Directory) -> dict[str, int]:
    return {"department": len(d.departments), "window": len(d.windows), "staff": len(d.staff)}


__all__ = ["counts", "load", "staff_of_window", "write"]
