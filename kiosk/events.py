"""Ticket events: the one type the kiosk consumes from any queue system.

Sources (MQTT, serial, simulator) turn bytes into TicketEvent; the kiosk flow
never sees anything else.
"""
from __future__ import annotations

import json
import re
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable, Mapping

from hallcore.hallclock import assume_hall, hall_today
from hallcore.record import MAX_MATTERS, MAX_TEXT, parse_time

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
    """A frame or message that is not a valid ticket event; says why.

    `reason` is a short counter name (e.g. "too_large", "wrong_window") the
    sources use for SourceStatus.rejected; the message is for the log.
    """

    def __init__(self, message: str, reason: str = "invalid"):
        super().__init__(message)
        self.reason = reason


MAX_PAYLOAD = 8 * 1024            # DESIGN §4: an MQTT message is at most 8 KiB
MAX_TICKET = 32
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _text(fields: Mapping[str, Any], name: str, *, required: bool = False,
          limit: int = MAX_TEXT) -> str:
    v = fields.get(name)
    if v is None:
        if required:
            raise EventError(f"{name} is missing", "missing_field")
        return ""
    if not isinstance(v, str):
        raise EventError(f"{name} must be a string, got {type(v).__name__}", "wrong_type")
    v = v.strip()
    if required and not v:
        raise EventError(f"{name} is empty", "missing_field")
    if len(v) > limit:
        raise EventError(f"{name} is longer than {limit} characters", "too_long")
    if _CONTROL.search(v):
        raise EventError(f"{name} contains control characters", "wrong_type")
    return v


def _matter(item: Any, index: int) -> Matter:
    if not isinstance(item, Mapping):
        raise EventError(f"matters[{index}] must be an object with code and name", "wrong_type")
    try:
        return Matter(code=_text(item, "code"), name=_text(item, "name", required=True))
    except EventError as e:
        raise EventError(f"matters[{index}].{e}", e.reason) from None


def build_event(fields: Mapping[str, Any], *, window: str | None) -> TicketEvent:
    """Validate a decoded frame (JSON object or regex groups) into a TicketEvent.

    The one place that knows what a valid event is, whatever the transport.
    `window` is this kiosk's window: a frame for another window is rejected;
    a frame without a window is taken as ours (point-to-point serial lines).
    `fields["matters"]` is a list of {"code","name"} objects; `fields["ts"]`
    is an ISO 8601 string with offset or an aware datetime.
    """
    kind = fields.get("event")
    if kind not in EVENT_KINDS:
        raise EventError(f"unknown event {kind!r} (expected one of {', '.join(EVENT_KINDS)})",
                         "unknown_event")
    ticket = _text(fields, "ticket", required=True, limit=MAX_TICKET)
    if any(c.isspace() for c in ticket):
        raise EventError(f"ticket {ticket!r} contains spaces", "wrong_type")
    own = _text(fields, "window", limit=MAX_TICKET)
    if window is not None and own and own != window:
        raise EventError(f"event for window {own!r} reached window {window!r}", "wrong_window")
    matters = fields.get("matters") or []
    if not isinstance(matters, (list, tuple)):
        raise EventError("matters must be a list", "wrong_type")
    if len(matters) > MAX_MATTERS:
        raise EventError(f"more than {MAX_MATTERS} matters on one ticket", "too_long")
    ts = fields.get("ts")
    if isinstance(ts, datetime):
        ts = assume_hall(ts)
    elif ts is not None:
        parsed = parse_time(ts)
        if parsed is None:
            raise EventError(f"ts {str(ts)[:40]!r} is not an ISO 8601 time with offset", "wrong_type")
        ts = parsed
    case_no = _text(fields, "case_no") or None
    return TicketEvent(kind=kind, ticket=ticket, window=own or (window or ""),
                       staff_id=_text(fields, "staff_id"), staff_name=_text(fields, "staff_name"),
                       case_no=case_no, matters=tuple(_matter(m, i) for i, m in enumerate(matters)),
                       ts=ts)


def _json_object(payload: Any, what: str) -> dict:
    if not isinstance(payload, (bytes, bytearray)):
        raise EventError(f"{what} must be bytes", "wrong_type")
    if len(payload) > MAX_PAYLOAD:
        raise EventError(f"{what} is {len(payload)} bytes, over {MAX_PAYLOAD}", "too_large")
    try:
        obj = json.loads(bytes(payload).decode("utf-8"))
    except UnicodeDecodeError as e:
        raise EventError(f"{what} is not UTF-8 ({e.reason} at byte {e.start})", "bad_encoding") from None
    except (ValueError, RecursionError) as e:
        raise EventError(f"{what} is not JSON ({str(e)[:80]})", "bad_json") from None
    if not isinstance(obj, dict):
        raise EventError(f"{what} must be a JSON object, got {type(obj).__name__}", "wrong_type")
    return obj


def parse_mqtt_payload(payload: bytes, *, window: str) -> TicketEvent:
    """An MQTT queue message (DESIGN §4 JSON, UTF-8, ≤ 8 KiB) as a TicketEvent."""
    return build_event(_json_object(payload, "payload"), window=window)


def event_to_json(event: TicketEvent) -> bytes:
    """The DESIGN §4 JSON of an event (what a queue system publishes)."""
    obj: dict[str, Any] = {"event": event.kind, "ticket": event.ticket, "window": event.window,
                           "staff_id": event.staff_id, "staff_name": event.staff_name,
                           "case_no": event.case_no,
                           "matters": [{"code": m.code, "name": m.name} for m in event.matters]}
    if event.ts is not None:
        obj["ts"] = event.ts.isoformat()
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Done:
    """The back-channel: a ticket's evaluation ended. Counts only, never the rating."""
    ticket: str
    rated: int
    unrated: int


def _count(v: Any, name: str) -> int:
    if not isinstance(v, int) or isinstance(v, bool) or not 0 <= v <= MAX_MATTERS:
        raise EventError(f"{name} must be a whole number from 0 to {MAX_MATTERS}", "wrong_type")
    return v


def done_to_json(ticket: str, rated: int, unrated: int) -> bytes:
    return json.dumps({"ticket": ticket, "status": "done", "rated": int(rated),
                       "unrated": int(unrated)}, ensure_ascii=False).encode("utf-8")


def parse_done_payload(payload: bytes) -> Done:
    """The back-channel JSON (what a queue system receives), checked."""
    obj = _json_object(payload, "back-channel message")
    if obj.get("status") != "done":
        raise EventError("status must be \"done\"", "wrong_type")
    return Done(_text(obj, "ticket", required=True, limit=MAX_TICKET),
                _count(obj.get("rated"), "rated"), _count(obj.get("unrated"), "unrated"))


@dataclass
class _Cycle:
    kinds: set[str]
    call_ts: set[datetime]


class EventDeduplicator:
    """Drops replayed events so a redelivery never starts a second evaluation.

    Rule: events are idempotent per (service day, ticket, kind) within one
    "cycle" of a ticket. The service day is the date of the event's `ts` in
    its own offset, else the hall's date today from `today()`; queue systems restart
    numbering each morning, so A001 tomorrow is a new ticket. Within a day a
    ticket number may be reused (a wrapped counter): a `call` with a `ts` not
    seen before, for a ticket whose cycle already ended (finish or cancel
    seen), starts a new cycle. A call without `ts`, or with a `ts` already
    seen, cannot be told apart from a broker redelivering the old call and
    is dropped — a queue system that reuses numbers within a day must send
    `ts`. Memory is bounded: the oldest tickets are forgotten past `capacity`.
    """

    def __init__(self, capacity: int = 5000, today: Callable[[], date] = hall_today):
        self.capacity = capacity
        self._today = today
        self._cycles: OrderedDict[tuple[date, str], _Cycle] = OrderedDict()

    def seen(self, event: TicketEvent) -> bool:
        """True if `event` is a replay (drop it); else remembers it and returns False."""
        day = event.ts.date() if event.ts is not None else self._today()
        key = (day, event.ticket)
        cycle = self._cycles.get(key)
        if cycle is None:
            cycle = self._cycles[key] = _Cycle(set(), set())
            while len(self._cycles) > self.capacity:
                self._cycles.popitem(last=False)
        else:
            self._cycles.move_to_end(key)
        if event.kind == "call" and event.ts is not None:
            if event.ts in cycle.call_ts:
                return True
            if cycle.kinds & {"finish", "cancel"}:      # number reused: a new cycle
                cycle.kinds.clear()
            if len(cycle.call_ts) >= 16:                 # bounded; oldest order irrelevant
                cycle.call_ts.pop()
            cycle.call_ts.add(event.ts)
        if event.kind in cycle.kinds:
            return True
        cycle.kinds.add(event.kind)
        return False


def load_matters(path) -> tuple[Matter, ...]:
    """The sample matter list (config/matters.toml): [[matters]] code, name."""
    from hallcore.config import Table, load_toml
    data = load_toml(path)
    items = data.get("matters")
    if not isinstance(items, list) or not items:
        raise Table(data, source=str(path)).error("matters", "is missing or empty",
                                                   "add [[matters]] tables with code and name")
    out = []
    for i, item in enumerate(items):
        t = Table(item, f"matters[{i}]", source=str(path))
        out.append(Matter(code=t.str("code"), name=t.str("name")))
        t.str("department", "")
        t.reject_unknown()
    return tuple(out)
