"""The outboxes the kiosk flow tests run over: the disk outbox
(outbox/store.py) and the in-memory one, like tinydb's tests run over each
storage. A "restart" reopens the same store: the disk outbox from its
folder, the memory outbox as the same object (its "disk" is the object)."""
from __future__ import annotations

from pathlib import Path

from outbox.memory import MemoryOutbox
from outbox.store import Outbox

DEVICE_ID = "tab-03"
OUTBOX_KINDS = ("disk", "memory")


def make_outbox(folder: Path, device_id: str = DEVICE_ID) -> Outbox:
    return Outbox(Path(folder) / "outbox", device_id)


class OutboxOpener:
    """Opens the outbox of `kind` for a folder; the same folder again is a restart."""

    def __init__(self, kind: str):
        self.kind = kind
        self._memory: dict[Path, MemoryOutbox] = {}

    def __call__(self, folder: Path, device_id: str = DEVICE_ID):
        if self.kind == "disk":
            return make_outbox(folder, device_id)
        return self._memory.setdefault(Path(folder), MemoryOutbox(device_id))


def outbox_records(outbox) -> list[dict]:
    """Every record waiting for the center, in the order the kiosk stored them."""
    return sorted(outbox.pending(), key=lambda r: r["seq"])
