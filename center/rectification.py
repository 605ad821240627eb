"""The rectification list (整改重点) in the database: an entry opened when a
case closes for a structural cause (体制机制), and each step that tracks it to
done (rules in center/handling.py: item_apply), every step in its log."""
from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from hallcore.hallclock import from_db, to_db

from .cases import Actor, Change
from .db import rectification_items, rectification_log
from .handling import ITEM_ACTIONS, ItemView, item_apply

OPEN_LABEL = "列入整改重点"
LOG_LABELS = {"open": OPEN_LABEL, **ITEM_ACTIONS}


def _db(v: Any) -> Any:
    return to_db(v) if isinstance(v, datetime) else v


def _log(conn, item_id: int, now: datetime, actor: str, action: str, from_state: str | None,
         to_state: str, note: str | None) -> None:
    conn.execute(insert(rectification_log).values(
        item_id=item_id, at=to_db(now), actor=actor, action=action, from_state=from_state,
        to_state=to_state, note=note))


def open_item(conn, case_id: int | None, item: dict[str, Any], actor: Actor, now: datetime) -> int:
    """A new entry with the columns handling.new_item gave; its id."""
    values = {k: _db(v) for k, v in item.items()}
    item_id = conn.execute(insert(rectification_items).returning(rectification_items.c.id).values(
        case_id=case_id, updated_at=to_db(now), **values)).scalar_one()
    _log(conn, item_id, now, actor.name, "open", None, item["state"], item["cause"])
    return item_id


def item_view(row) -> ItemView:
    return ItemView(state=row.state, department=row.department, target_at=from_db(row.target_at))


def load_item(conn, item_id: int, *, lock: bool = False):
    q = select(rectification_items).where(rectification_items.c.id == item_id)
    return conn.execute(q.with_for_update() if lock else q).first()


def act(center, item_id: int, action: str, actor: Actor, *, note: str | None = None,
        department: str | None = None, target_at: datetime | None = None) -> Change:
    """Apply one step; raises CaseError (shown to the user) or KeyError."""
    now = center.clock()
    with center.engine.begin() as conn:
        row = load_item(conn, item_id, lock=True)
        if row is None:
            raise KeyError(item_id)
        ch = item_apply(item_view(row), action, actor, now=now, note=note, department=department,
                        target_at=target_at)
        values = {k: _db(v) for k, v in ch.updates.items()}
        conn.execute(update(rectification_items).where(rectification_items.c.id == item_id)
                     .values(updated_at=to_db(now), **values))
        _log(conn, item_id, now, actor.name, action, ch.from_state, ch.to_state, ch.note)
        return ch


__all__ = ["LOG_LABELS", "act", "item_view", "load_item", "open_item"]
