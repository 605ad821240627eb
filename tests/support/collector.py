"""Collects the TicketEvents a source delivers on its background thread."""
from __future__ import annotations

import threading

from kiosk.events import TicketEvent
from tests.support.waiting import wait_for


class Collector:
    def __init__(self):
        self._lock = threading.Lock()
        self.events: list[TicketEvent] = []

    def __call__(self, event: TicketEvent) -> None:   # the source's on_event
        with self._lock:
            self.events.append(event)

    def tickets(self) -> list[tuple[str, str]]:
        """(kind, ticket) of everything delivered so far, in order."""
        with self._lock:
            return [(e.kind, e.ticket) for e in self.events]

    def wait_tickets(self, n: int) -> list[tuple[str, str]]:
        wait_for(lambda: len(self.tickets()) >= n, what=f"{n} events")
        return self.tickets()
