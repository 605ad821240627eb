"""Serial line protocols (DESIGN §4): the project's default line protocol,
vendor profiles (a regex with named groups and a verb map, from TOML), and
the splitter that turns a byte stream into decoded lines. Pure: no I/O.

Default protocol, one frame per line, fields separated by "|", trailing
fields may be omitted:

    CALL|A023|03|1024|张三|2026112800017|GA001:居民身份证换领;GA002:户口迁移|2026-11-28T09:00:00+08:00
    FINISH|A023|03
    CANCEL|A024

verb | ticket | window | staff id | staff name | case no | matters | time.
Matters are "code:name" items separated by ";". The kiosk answers, after the
citizen's evaluation, with one line (counts only, never the rating):

    DONE|A023|2|0
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hallcore.config import Table, load_toml
from hallcore.hallclock import assume_hall
from kiosk.events import EVENT_KINDS, Done, EventError, TicketEvent, build_event

GROUPS = ("verb", "ticket", "window", "staff_id", "staff_name", "case_no", "matters",
          "matter_code", "matter_name", "time")
IGNORE = "ignore"          # verb map value for vendor frames the kiosk does not need
LINE_ENDINGS = {"crlf": b"\r\n", "lf": b"\n", "cr": b"\r"}
ENCODINGS = ("gbk", "utf-8")

_F = r"[^|]*"
DEFAULT_PATTERN = (rf"^(?P<verb>CALL|FINISH|CANCEL)\|(?P<ticket>{_F})(?:\|(?P<window>{_F})"
                   rf"(?:\|(?P<staff_id>{_F})(?:\|(?P<staff_name>{_F})(?:\|(?P<case_no>{_F})"
                   rf"(?:\|(?P<matters>{_F})(?:\|(?P<time>{_F}))?)?)?)?)?)?$")
DEFAULT_DONE = "DONE|{ticket}|{rated}|{unrated}"
_DONE_LINE = re.compile(r"^DONE\|(?P<ticket>[^|\s]+)\|(?P<rated>\d{1,2})\|(?P<unrated>\d{1,2})$")


@dataclass(frozen=True)
class LineProfile:
    name: str
    pattern: re.Pattern
    verbs: dict[str, str]
    matters_separator: str = ";"
    matter_code_separator: str = ":"      # "" = the vendor sends names only
    time_format: str = "iso"              # "iso" or a strptime format
    done_format: str = DEFAULT_DONE
    encoding: str | None = None           # the vendor's usual encoding, if the profile says
    description: str = ""

    @classmethod
    def default(cls) -> "LineProfile":
        return cls("default", re.compile(DEFAULT_PATTERN),
                   {"CALL": "call", "FINISH": "finish", "CANCEL": "cancel"},
                   description="the project's own line protocol (README)")

    @classmethod
    def load(cls, path: str | Path) -> "LineProfile":
        return cls.from_table(Table(load_toml(path), source=str(path)))

    @classmethod
    def from_table(cls, table: Table) -> "LineProfile":
        """A vendor profile from its TOML table; ConfigError names the bad key."""
        name = table.str("name")
        raw = table.str("pattern")
        try:
            pattern = re.compile(raw)
        except (re.error, OverflowError, RecursionError, ValueError) as e:
            raise table.error("pattern", f"is not a valid regular expression ({e})",
                              "test it with python's re module") from None
        groups = set(pattern.groupindex)
        unknown = groups - set(GROUPS)
        if unknown:
            raise table.error("pattern", f"has unknown named groups {sorted(unknown)}",
                              f"use only: {', '.join(GROUPS)}")
        for need in ("verb", "ticket"):
            if need not in groups:
                raise table.error("pattern", f"has no (?P<{need}>...) group", "add it")
        if "matter_code" in groups and "matter_name" not in groups:
            raise table.error("pattern", "has matter_code but no matter_name group", "add (?P<matter_name>...)")
        vt = table.table("verbs")
        verbs = {}
        for vendor_verb in vt.data:
            verbs[vendor_verb] = vt.str(vendor_verb, choices=EVENT_KINDS + (IGNORE,))
        if not set(verbs.values()) & set(EVENT_KINDS):
            raise table.error("verbs", "maps no vendor verb to call, finish or cancel",
                              'add e.g. CALLNO = "call" under [verbs]')
        done = table.str("done_format", DEFAULT_DONE)
        try:
            sample = done.format(ticket="A001", rated=1, unrated=0)
        except (KeyError, IndexError, ValueError, AttributeError, TypeError) as e:
            raise table.error("done_format", f"is not a valid template ({e!r})",
                              "use only {ticket}, {rated} and {unrated}") from None
        if any(c in sample for c in "\r\n"):
            raise table.error("done_format", "contains a line break", "the line ending is added by [queue.serial]")
        profile = cls(
            name=name, pattern=pattern, verbs=verbs,
            matters_separator=table.str("matters_separator", ";"),
            matter_code_separator=table.str("matter_code_separator", ":", empty=True),
            time_format=table.str("time_format", "iso"),
            done_format=done,
            encoding=table.str("encoding", None, choices=ENCODINGS),
            description=table.str("description", "", empty=True))
        table.reject_unknown()
        return profile

    def parse_line(self, line: str, *, window: str | None = None) -> TicketEvent:
        """One decoded line as a TicketEvent; EventError (with a reason) if not.

        `window` is this kiosk's window: frames naming another window are
        rejected ("wrong_window"), frames without one are taken as ours.
        """
        if not isinstance(line, str):
            raise EventError("line must be text", "wrong_type")
        m = self.pattern.search(line)
        if m is None:
            raise EventError(f"line does not match the {self.name} profile", "no_match")
        g = {k: (v.strip() if v is not None else None) for k, v in m.groupdict().items()}
        kind = self.verbs.get(g["verb"] or "")
        if kind is None:
            raise EventError(f"unknown verb {g['verb']!r} for the {self.name} profile", "unknown_event")
        if kind == IGNORE:
            raise EventError(f"verb {g['verb']!r} is ignored by the {self.name} profile", "ignored")
        fields: dict[str, Any] = {k: g.get(k) or None for k in
                                  ("ticket", "window", "staff_id", "staff_name", "case_no")}
        fields["event"] = kind
        fields["ticket"] = g["ticket"] or ""
        fields["matters"] = self._matters(g)
        fields["ts"] = self._time(g.get("time"))
        return build_event(fields, window=window)

    def _matters(self, g: dict) -> list[dict]:
        if g.get("matter_name"):
            return [{"code": g.get("matter_code") or "", "name": g["matter_name"]}]
        out = []
        for item in (g.get("matters") or "").split(self.matters_separator):
            item = item.strip()
            if not item:
                continue
            code, sep, name = item.partition(self.matter_code_separator) \
                if self.matter_code_separator else ("", "", item)
            out.append({"code": code.strip(), "name": name.strip()} if sep
                       else {"code": "", "name": item})
        return out

    def _time(self, text: str | None) -> datetime | None:
        if not text:
            return None
        try:
            t = (datetime.fromisoformat(text) if self.time_format == "iso"
                 else datetime.strptime(text, self.time_format))
        except ValueError:
            raise EventError(f"time {text[:40]!r} does not match {self.time_format!r}", "wrong_type") from None
        return assume_hall(t)

    def format_done(self, ticket: str, rated: int, unrated: int) -> str:
        """The back-channel line, without the line ending."""
        return self.done_format.format(ticket=ticket, rated=int(rated), unrated=int(unrated))


def format_default_line(event: TicketEvent) -> str:
    """An event in the default line protocol (the simulator's and tests' side)."""
    matters = ";".join(f"{m.code}:{m.name}" for m in event.matters)
    fields = [event.kind.upper(), event.ticket, event.window, event.staff_id, event.staff_name,
              event.case_no or "", matters, event.ts.isoformat() if event.ts else ""]
    while len(fields) > 2 and not fields[-1]:
        fields.pop()
    return "|".join(fields)


def parse_done_line(line: str) -> Done:
    """A default-protocol back-channel line (what the queue system reads)."""
    m = _DONE_LINE.match(line.strip()) if isinstance(line, str) else None
    if m is None:
        raise EventError(f"not a DONE line: {str(line)[:60]!r}", "no_match")
    return Done(m["ticket"], int(m["rated"]), int(m["unrated"]))


_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


class LineSplitter:
    """Bytes in, complete decoded lines out, whatever the chunking.

    Lines longer than `max_line` bytes are dropped up to the next line ending
    ("oversize"); lines that do not decode ("bad_encoding") or carry control
    characters (line noise, a wrong baud rate: "garbage") are dropped too;
    the next good line is always returned. Splitting on bytes is safe for GBK:
    its trail bytes are 0x40–0xFE, never CR or LF. Memory is bounded by
    max_line. For "crlf" a bare LF also ends a line (and a stray CR is
    stripped), so a device that sends LF alone still works.
    """

    def __init__(self, *, encoding: str = "gbk", line_ending: str = "crlf", max_line: int = 1024):
        if line_ending not in LINE_ENDINGS:
            raise ValueError(f"line_ending must be one of {', '.join(LINE_ENDINGS)}")
        self.encoding = encoding
        self.line_ending = line_ending
        self.max_line = max_line
        self._sep = b"\r" if line_ending == "cr" else b"\n"
        self._strip = b"\n" if line_ending == "cr" else b"\r"
        self._buf = bytearray()
        self._discarding = False
        self.counts = {"oversize": 0, "bad_encoding": 0, "garbage": 0, "partial": 0}

    def feed(self, data: bytes) -> list[str]:
        lines = []
        start = 0
        while True:
            end = data.find(self._sep, start)
            if end < 0:
                self._append(data[start:])
                return lines
            self._append(data[start:end])
            if self._discarding:
                self._discarding = False
            else:
                line = self._decode(bytes(self._buf).strip(self._strip))
                if line:
                    lines.append(line)
            self._buf.clear()
            start = end + 1

    def reset(self) -> None:
        """Forget a half-received line (the port was lost mid-frame)."""
        if self._buf or self._discarding:
            self.counts["partial"] += 1
        self._buf.clear()
        self._discarding = False

    def _append(self, chunk: bytes) -> None:
        if self._discarding:
            return
        self._buf += chunk
        if len(self._buf) > self.max_line:
            self.counts["oversize"] += 1
            self._buf.clear()
            self._discarding = True

    def _decode(self, raw: bytes) -> str | None:
        if not raw.strip():
            return None
        try:
            line = raw.decode(self.encoding)
        except UnicodeDecodeError:
            self.counts["bad_encoding"] += 1
            return None
        if _CONTROL.search(line):
            self.counts["garbage"] += 1
            return None
        return line.strip()
