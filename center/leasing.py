"""Claiming work from an outbox table when several center instances share
one database (alerts, the provincial upstream): the one rule for "who sends
this row now".

A claim is a lease. In one short transaction the claimer locks due rows
with SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL; a second instance skips
them instead of waiting) and moves their `next_attempt_at` to the end of
the lease, so no other instance takes them while this one sends. The
sending itself runs outside any transaction. The holder then records the
outcome (sent, or the next attempt after a failure). If it dies first, the
row comes due again when the lease ends and another instance sends it.
Delivery is therefore at least once: a sender that may be killed between
the far side's acceptance and the write of the outcome must give the far
side an idempotency key (the row's id) to recognise the repeat.

SQLite serialises writers and runs one center process; there the SELECT
takes no row lock, and the transaction alone keeps claims apart in one
process.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Engine, Row


def claim_due(engine: Engine, table: Table, *, pending: Any, now: datetime, lease_s: float,
              limit: int = 100) -> list[Row]:
    """Claim up to `limit` rows of `table` that match `pending` and whose
    `next_attempt_at` has come (naive UTC `now`, as the tables store).
    Returns them in id order; each is leased to the caller for `lease_s`."""
    with engine.begin() as conn:
        q = (select(table).where(pending, table.c.next_attempt_at <= now)
             .order_by(table.c.id).limit(limit))
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = conn.execute(q).all()
        if rows:
            conn.execute(update(table).where(table.c.id.in_([r.id for r in rows]))
                         .values(next_attempt_at=now + timedelta(seconds=lease_s)))
    return rows


__all__ = ["claim_due"]
