"""The open evaluation, persisted so a power cut never loses or doubles a matter.

The journal is one small JSON file next to the outbox, written atomically
(hallcore.fsutil) whenever the flow's durable state changes: an evaluation
opens (with every matter's record id assigned up front, so a crash between
outbox.put and the journal update replays the same id and the idempotent
outbox keeps one record), a matter is recorded, a ticket event is queued
behind an evaluation, a ticket ends.

This module is the file and its (de)serialisation; what to do with it on
start-up (resume or record unrated 'interrupted') is the flow's rule.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hallcore.fsutil import atomic_write_json, fsync_dir
from hallcore.hallclock import hall_now
from hallcore.record import UNRATED_REASONS, parse_time
from kiosk.events import EventError, TicketEvent, build_event, event_to_json

log = logging.getLogger(__name__)

JOURNAL_VERSION = 1


class JournalError(ValueError):
    """A journal whose content cannot be trusted; says which part is wrong."""


# ------------------------------------------------------------ pure (de)serialisation

@dataclass
class OpenMatter:
    code: str
    name: str
    record_id: str                 # assigned when the evaluation opens; the outbox's idempotency key
    result: str | None = None      # "rated" / "unrated" once stored, "rejected" if the store refused it


@dataclass
class OpenEvaluation:
    """One finished ticket whose matters are being asked, as the journal holds it."""
    ticket: str
    window: str
    staff_id: str
    staff_name: str
    case_no: str | None
    called_at: str | None          # ISO 8601 with offset
    finished_at: str
    matters: list[OpenMatter]
    index: int                     # 0-based: the matter on screen (first one without a result)
    prompted_at: str               # when the current matter's rating screen first appeared
    closing: str | None = None     # an unrated reason being written for every remaining matter

    @property
    def current(self) -> OpenMatter:
        return self.matters[self.index]

    def counts(self) -> tuple[int, int]:
        rated = sum(1 for m in self.matters if m.result == "rated")
        return rated, sum(1 for m in self.matters if m.result in ("unrated", "rejected"))

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, d: Any) -> "OpenEvaluation":
        if not isinstance(d, dict):
            raise JournalError(f"open evaluation is not an object: {d!r:.80}")
        try:
            matters = [OpenMatter(**m) for m in d["matters"]]
            ev = cls(**{**d, "matters": matters})
        except (KeyError, TypeError) as e:
            raise JournalError(f"open evaluation is incomplete: {e}") from None
        texts = [ev.ticket, ev.window, ev.staff_id, ev.staff_name, ev.finished_at, ev.prompted_at]
        if not all(isinstance(t, str) for t in texts) or not ev.ticket:
            raise JournalError("open evaluation: ticket, window, staff and times must be strings")
        if parse_time(ev.prompted_at) is None or parse_time(ev.finished_at) is None:
            raise JournalError("open evaluation: prompted_at/finished_at are not ISO times with offset")
        if ev.called_at is not None and parse_time(ev.called_at) is None:
            raise JournalError("open evaluation: called_at is not an ISO time with offset")
        if not ev.matters or not all(isinstance(m.record_id, str) and m.record_id and isinstance(m.name, str)
                                     and m.result in (None, "rated", "unrated", "rejected")
                                     for m in ev.matters):
            raise JournalError("open evaluation: matters must each have a name, record id and result")
        if not isinstance(ev.index, int) or not 0 <= ev.index < len(ev.matters) \
                or ev.current.result is not None:
            raise JournalError(f"open evaluation: index {ev.index!r} is not an unrecorded matter")
        if ev.closing is not None and ev.closing not in UNRATED_REASONS:
            raise JournalError(f"open evaluation: closing {ev.closing!r} is not an unrated reason")
        return ev


def _event_dict(ev: TicketEvent) -> dict[str, Any]:
    """A waiting event as the queue system sent it (DESIGN.md section 4 JSON)."""
    return json.loads(event_to_json(ev))


def _event_from_dict(d: Any) -> TicketEvent:
    if not isinstance(d, dict):
        raise JournalError(f"queued ticket event is malformed: {d!r:.80}")
    try:
        return build_event(d, window=None)
    except EventError as e:
        raise JournalError(f"queued ticket event is malformed: {e}") from None


@dataclass
class JournalState:
    """Everything the flow must not forget across a restart."""
    open: OpenEvaluation | None = None
    pending: list[TicketEvent] = field(default_factory=list)   # events waiting behind `open`
    day: str = ""                                               # local date of `done`
    done: list[str] = field(default_factory=list)               # tickets evaluated that day (replay guard)

    def to_json(self) -> dict[str, Any]:
        return {"version": JOURNAL_VERSION,
                "open": self.open.to_json() if self.open else None,
                "pending": [_event_dict(e) for e in self.pending],
                "day": self.day, "done": list(self.done)}

    @classmethod
    def from_json(cls, d: Any) -> "JournalState":
        if not isinstance(d, dict) or d.get("version") != JOURNAL_VERSION:
            raise JournalError(f"not a version-{JOURNAL_VERSION} journal")
        done, day = d.get("done", []), d.get("day", "")
        if not isinstance(done, list) or not all(isinstance(t, str) for t in done) \
                or not isinstance(day, str):
            raise JournalError("done tickets must be a list of strings")
        pending = d.get("pending", [])
        if not isinstance(pending, list):
            raise JournalError("pending events must be a list")
        return cls(open=OpenEvaluation.from_json(d["open"]) if d.get("open") is not None else None,
                   pending=[_event_from_dict(e) for e in pending], day=day, done=done)


# ----------------------------------------------------------------------- the file

class Journal:
    """journal.json in the storage folder: save(dict) / load() / clear().

    A file that cannot be read is moved aside (kept for inspection, never
    deleted), reported in `problem` and the log, and load() returns None, so
    start-up never crashes on it.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.problem: str | None = None

    def save(self, state: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_json(self.path, state)

    def load(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        try:
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError(f"top level is {type(data).__name__}, not an object")
        except (UnicodeDecodeError, ValueError) as e:
            self.set_aside(f"unreadable JSON ({e})")
            return None
        return data

    def set_aside(self, why: str) -> Path:
        """Move a journal that cannot be used out of the way and report it."""
        stamp = hall_now().strftime("%Y%m%dT%H%M%S")
        aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}")
        n = 1
        while aside.exists():   # never overwrite an earlier one
            n += 1
            aside = self.path.with_name(f"{self.path.name}.corrupt-{stamp}-{n}")
        os.replace(self.path, aside)
        fsync_dir(self.path.parent)
        self.problem = f"journal {self.path} {why}; moved to {aside.name}"
        log.error("%s", self.problem)
        return aside

    def clear(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            return
        fsync_dir(self.path.parent)
