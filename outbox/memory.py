"""An outbox kept in memory: the same put rules as the disk outbox
(outbox.store.admit and seal: idempotent by id, seq +1 per new record,
each chained to the one before), nothing durable. For tests of the parts that put records, the way tinydb ships a
MemoryStorage beside its JSON storage; never used on a tablet.
"""
from __future__ import annotations

from typing import Any

from hallcore.chain import Head

from .store import NO_HEAD, admit, pending_order, seal


class MemoryOutbox:
    def __init__(self, device_id: str):
        self.device_id = device_id
        self._records: dict[str, dict[str, Any]] = {}
        self._head: Head | None = None
        self.closed = False

    def put(self, record: dict[str, Any]) -> dict[str, Any]:
        rec = admit(record, self.device_id)
        stored = self._records.get(rec["id"])
        if stored is None:
            stored, self._head = seal(rec, len(self._records) + 1, self._head)
            self._records[rec["id"]] = stored
        return dict(stored)

    def chain_head(self) -> Head:
        return self._head or NO_HEAD

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every record, bad reviews first, then by seq (as the disk outbox sends them)."""
        ordered = sorted(({"record": r} for r in self._records.values()), key=pending_order)
        return [dict(e["record"]) for e in ordered[:limit]]

    def close(self) -> None:
        self.closed = True
