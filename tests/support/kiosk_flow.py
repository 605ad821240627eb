"""The real outbox as the kiosk flow tests use it (agent/outbox.py)."""
from __future__ import annotations

from pathlib import Path

from agent.outbox import Outbox

DEVICE_ID = "tab-03"


def make_outbox(folder: Path, device_id: str = DEVICE_ID) -> Outbox:
    return Outbox(Path(folder) / "outbox", device_id)


def outbox_records(outbox: Outbox) -> list[dict]:
    """Every record waiting for the center, in the order the kiosk stored them."""
    return sorted(outbox.pending(), key=lambda r: r["seq"])
