"""Ticket events: the one type the kiosk consumes from any queue system.

Sources (MQTT, serial, simulator) turn bytes into TicketEvent; the kiosk flow
never sees anything else.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

EVENT_KINDS = ("call", "finish", "cancel")   # finish = 办结, starts the evaluation


@dataclass(frozen=True)
class Matter:
    code: str
    name: str


@dataclass(frozen=True)
class TicketEvent:
    kind: str                      # one of EVENT_KINDS
    ticket: str                    # e.g. "A023"
    window: str                    # e.g. "03"
    staff_id: str = ""
    staff_name: str = ""
    case_no: str | None = None
    matters: tuple[Matter, ...] = field(default_factory=tuple)
    ts: datetime | None = None     # the queue system's time, if it sent one

    @property
    def key(self) -> tuple[str, str]:
        """Idempotency key: a replayed (ticket, event) is the same event."""
        return (self.ticket, self.kind)


class EventError(ValueError):
    """A frame or message that is not a valid ticket event; says why."""
