"""Claiming work from an outbox table when several center instances share
one database (alerts, the provincial upstream): the one rule for "who sends
this row now".

A claim is a lease. In one short transaction the claimer locks due rows
with SELECT … FOR UPDATE SKIP LOCKED (PostgreSQL; a second instance skips
them instead of waiting) and moves their `next_attempt_at` to the end of
the lease, so no other instance takes them while this one sends. The
sending itself runs outside any transaction. The holder then records the
outcome (sent, or the next attempt after a failure) with `finish`, which
writes only while the row still carries this claim's lease end: a holder
whose lease ran out (another instance has claimed the row since) writes
nothing over the newer claim. If the holder dies first, the row comes due
again when the lease ends and another instance sends it.

The lease end is the claim's token. A row is claimed only once its
`next_attempt_at` has come, and the new lease ends `lease_s` after that, so
each claim of a row carries a later lease end than every earlier one; a
failure's next attempt is at least a second after its send started. (A row
given back with `release` is due at once; its next claim's lease end would
equal the old one only if that claim were made at the very same instant,
and the releasing holder touches the row no more anyway.)

Delivery is therefore at least once: a sender that may be killed between
the far side's acceptance and the write of the outcome, or whose send
outlasts its lease, must give the far side an idempotency key (the row's
id) to recognise the repeat. A holder should start no send in the last
part of its lease (`Claim.sendable`) and `release` what it will not send.

SQLite serialises writers and runs one center process; there the SELECT
takes no row lock, and the transaction alone keeps claims apart in one
process.
"""
from __future__ import annotations

import time
from datetime import datetime, timedelta
from typing import Any, Iterable

from sqlalchemy import Table, select, update
from sqlalchemy.engine import Engine, Row

# A send is started only in this first share of the lease, so that it has
# the rest (by default 60 of 120 s) to finish before another instance may
# take the row.
SENDABLE_SHARE = 0.5


class Claim(list):
    """The rows one `claim_due` took (a list, in id order). `until` is the
    lease end written into each of them: the holder's token."""

    def __init__(self, rows: Iterable[Row], until: datetime, lease_s: float):
        super().__init__(rows)
        self.until, self.lease_s = until, lease_s
        self._taken = time.monotonic()

    def sendable(self) -> bool:
        """Whether a send may still start: within the first half of the
        lease (monotonic time since the claim, whatever the clocks say)."""
        return time.monotonic() - self._taken < self.lease_s * SENDABLE_SHARE


def claim_due(engine: Engine, table: Table, *, pending: Any, now: datetime, lease_s: float,
              limit: int = 100) -> Claim:
    """Claim up to `limit` rows of `table` that match `pending` and whose
    `next_attempt_at` has come (naive UTC `now`, as the tables store).
    Returns them in id order; each is leased to the caller for `lease_s`."""
    if lease_s <= 0:
        raise ValueError(f"a lease must last some time, got {lease_s}")
    until = now + timedelta(seconds=lease_s)
    with engine.begin() as conn:
        q = (select(table).where(pending, table.c.next_attempt_at <= now)
             .order_by(table.c.id).limit(limit))
        if conn.dialect.name == "postgresql":
            q = q.with_for_update(skip_locked=True)
        rows = conn.execute(q).all()
        if rows:
            conn.execute(update(table).where(table.c.id.in_([r.id for r in rows]))
                         .values(next_attempt_at=until))
    return Claim(rows, until, lease_s)


def _held(table: Table, claim: Claim, ids: list[Any]):
    return (table.c.id.in_(ids) if len(ids) != 1 else table.c.id == ids[0],
            table.c.next_attempt_at == claim.until)


def finish(engine: Engine, table: Table, claim: Claim, row_id: Any, **values: Any) -> bool:
    """Record the outcome of one claimed row (`values`: its new columns),
    only while `claim` still holds it. False: the lease ended and another
    instance claimed the row since; nothing was written."""
    with engine.begin() as conn:
        n = conn.execute(update(table).where(*_held(table, claim, [row_id])).values(**values)).rowcount
    return n == 1


def release(engine: Engine, table: Table, claim: Claim, ids: list[Any], *, now: datetime) -> int:
    """Give claimed rows back unsent: due again at `now` for any instance.
    Rows the claim no longer holds are left alone. Returns how many."""
    if not ids:
        return 0
    with engine.begin() as conn:
        return conn.execute(update(table).where(*_held(table, claim, ids))
                            .values(next_attempt_at=now)).rowcount


__all__ = ["Claim", "claim_due", "finish", "release"]
