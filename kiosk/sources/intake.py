"""What every ticket source shares: its status, and the intake that turns a
frame into a delivered event (parse, deduplicate, count, log, hand over).
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import Callable, Protocol

from kiosk.events import EventDeduplicator, EventError, TicketEvent

log = logging.getLogger("kiosk.sources")

_LOG_FIRST = 20          # per reason; then one line every _LOG_EVERY, so line noise cannot flood the log
_LOG_EVERY = 1000


@dataclass
class SourceStatus:
    connected: bool
    detail: str                        # human-readable state, e.g. "connected to 10.0.0.5:8883"
    received: int                      # events handed to the kiosk (after deduplication)
    rejected: dict[str, int] = field(default_factory=dict)   # reason -> count, incl. "duplicate"


class TicketSource(Protocol):
    def start(self, on_event: Callable[[TicketEvent], None]) -> None: ...
    def stop(self) -> None: ...
    def send_done(self, ticket: str, rated: int, unrated: int) -> None: ...
    @property
    def status(self) -> SourceStatus: ...


class Intake:
    """Thread-safe: parse one frame, drop replays, count, deliver."""

    def __init__(self, name: str, dedup: EventDeduplicator | None = None):
        self.name = name
        self.dedup = dedup or EventDeduplicator()
        self.on_event: Callable[[TicketEvent], None] | None = None
        self.received = 0
        self.rejected: dict[str, int] = {}
        self.connected = False
        self.detail = "not started"
        self._lock = threading.Lock()

    def handle(self, parse: Callable[[], TicketEvent], what: str) -> TicketEvent | None:
        """Run `parse` (a closure over the frame); deliver the event if new."""
        try:
            event = parse()
        except EventError as e:
            self.reject(e.reason, f"{what}: {e}")
            return None
        with self._lock:
            duplicate = self.dedup.seen(event)
        if duplicate:
            self.reject("duplicate", f"replayed {event.kind} of ticket {event.ticket} dropped", level=logging.INFO)
            return None
        with self._lock:
            self.received += 1
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:   # the kiosk's bug must not kill the reader thread
                log.exception("%s: the kiosk failed to take %s of ticket %s", self.name, event.kind, event.ticket)
        return event

    def reject(self, reason: str, message: str, level: int = logging.WARNING) -> None:
        with self._lock:
            n = self.rejected[reason] = self.rejected.get(reason, 0) + 1
        if n <= _LOG_FIRST or n % _LOG_EVERY == 0:
            log.log(level, "%s: rejected (%s, #%d): %s", self.name, reason, n, message)

    def set_state(self, connected: bool, detail: str, *, trouble: bool | None = None) -> None:
        """Log once per change of state, not once per retry: the state is
        `connected` plus the detail up to its first colon (the rest, e.g. an
        errno text, may vary between retries). A WARNING when `trouble`
        (default: not connected); starting and stopping are no trouble."""
        with self._lock:
            changed = (connected, detail.split(":")[0]) != (self.connected, self.detail.split(":")[0])
            self.connected, self.detail = connected, detail
        if changed:
            trouble = not connected if trouble is None else trouble
            log.log(logging.WARNING if trouble else logging.INFO, "%s: %s", self.name, detail)

    def status(self, extra_rejected: dict[str, int] | None = None) -> SourceStatus:
        with self._lock:
            rejected = dict(self.rejected)
            for k, v in (extra_rejected or {}).items():
                if v:
                    rejected[k] = rejected.get(k, 0) + v
            return SourceStatus(self.connected, self.detail, self.received, rejected)
