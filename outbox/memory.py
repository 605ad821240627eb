"""An outbox kept in memory: the same put rules as the disk outbox
(outbox.store.admit, idempotent by id, seq +1 per new record), nothing
durable. For tests of the parts that put records, the way tinydb ships a
MemoryStorage beside its JSON storage; never used on a tablet.
"""
from __future__ import annotations

from typing import Any

from .store import admit, pending_order


class MemoryOutbox:
    def __init__(self, device_id: str):
        self.device_id = device_id
        self._records: dict[str, dict[str, Any]] = {}
        self.closed = False

    def put(self, record: dict[str, Any]) -> dict[str, Any]:
        rec = admit(record, self.device_id)
        stored = self._records.get(rec["id"])
        if stored is None:
            stored = self._records[rec["id"]] = dict(rec, seq=len(self._records) + 1)
        return dict(stored)

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Every record, bad reviews first, then by seq (as the disk outbox sends them)."""
        ordered = sorted(({"record": r} for r in self._records.values()), key=pending_order)
        return [dict(e["record"]) for e in ordered[:limit]]

    def close(self) -> None:
        self.closed = True
