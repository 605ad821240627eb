"""Where records go when they leave the pending spool: archive and quarantine.

Archive: records the center stored, in TinyDB files of at most PART_SIZE
records, named by the local day they were acknowledged
(`archive/2026-11-28.001.json`). Acknowledging rewrites only the current
part, so its cost is bounded however long the history grows.

Quarantine: records the center rejected, one small TinyDB file
(`quarantine.json`), each with the reason and time.

Both are written through AtomicJSONStorage (atomic, previous generation
kept). Readers in other processes notice changes by file stat and re-read
only the files that changed.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Iterator

from agent.tinystore import open_db, parse_tinydb, recover

PART_SIZE = 1000
_PART = re.compile(r"^(\d{4}-\d{2}-\d{2})\.(\d{3,})\.json$")


def part_name(day: date, number: int) -> str:
    return f"{day.isoformat()}.{number:03d}.json"


def parts_to_fill(counts: dict[str, int], day: date, n: int, part_size: int = PART_SIZE) -> list[tuple[str, int]]:
    """Where `n` records acknowledged on `day` go: [(part name, how many)].

    Fills today's last part up to `part_size`, then opens new parts. Pure.
    """
    today = sorted((int(m.group(2)), name) for name, m in
                   ((name, _PART.match(name)) for name in counts) if m and m.group(1) == day.isoformat())
    plan: list[tuple[str, int]] = []
    number = today[-1][0] if today else 1
    room = part_size - counts[today[-1][1]] if today else part_size
    while n > 0:
        if room <= 0:
            number, room = number + 1, part_size
            continue
        take = min(room, n)
        plan.append((part_name(day, number), take))
        n -= take
        room -= take
    return plan


def docs(path: Path) -> list[dict[str, Any]]:
    """The documents of a TinyDB file's default table (StoreDamaged if unreadable)."""
    return list(parse_tinydb(path.read_bytes(), path).get("_default", {}).values())


def _stat_key(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


@dataclass
class _Part:
    key: tuple[int, int, int]
    seqs: dict[str, int]        # record id -> seq


class Archive:
    def __init__(self, folder: Path, part_size: int = PART_SIZE):
        self.folder = folder
        self.part_size = part_size
        self._parts: dict[str, _Part] = {}

    def names(self) -> list[str]:
        return sorted(n for n in os.listdir(self.folder) if _PART.match(n))

    def recover_all(self) -> list[str]:
        """Start-up: restore damaged parts from their previous generation."""
        return [note for n in self.names() if (note := recover(self.folder / n))]

    def refresh(self) -> None:
        """Re-read only the parts that changed since last time (any process)."""
        names = self.names()
        for gone in set(self._parts) - set(names):
            del self._parts[gone]
        for n in names:
            p = self.folder / n
            key = _stat_key(p)
            cached = self._parts.get(n)
            if cached is None or cached.key != key:
                self._parts[n] = _Part(key, {d["record"]["id"]: d["record"]["seq"] for d in docs(p)})

    def where(self) -> dict[str, str]:
        """Record id -> part name, for every archived record (after refresh())."""
        return {i: n for n, part in self._parts.items() for i in part.seqs}

    def count(self) -> int:
        return sum(len(p.seqs) for p in self._parts.values())

    def max_seq(self) -> int:
        return max((max(p.seqs.values(), default=0) for p in self._parts.values()), default=0)

    def add(self, entries: list[dict[str, Any]], acked_at: str, day: date) -> dict[str, str]:
        """Durably append acknowledged entries; returns record id -> part name."""
        self.refresh()
        counts = {n: len(p.seqs) for n, p in self._parts.items()}
        written: dict[str, str] = {}
        start = 0
        for name, take in parts_to_fill(counts, day, len(entries), self.part_size):
            chunk = [dict(e, acked_at=acked_at) for e in entries[start:start + take]]
            start += take
            db = open_db(self.folder / name)
            try:
                db.insert_multiple(chunk)
            finally:
                db.close()
            written.update({e["record"]["id"]: name for e in chunk})
        return written

    def find(self, record_id: str, part: str) -> dict[str, Any] | None:
        for d in docs(self.folder / part):
            if d["record"]["id"] == record_id:
                return d
        return None

    def entries(self) -> Iterator[dict[str, Any]]:
        """Every archived entry, part by part (for checks and exports)."""
        for n in self.names():
            yield from docs(self.folder / n)


class Quarantine:
    def __init__(self, path: Path):
        self.path = path
        self._key: tuple[int, int, int] | None = None
        self._docs: list[dict[str, Any]] = []

    def recover(self) -> list[str]:
        note = recover(self.path)
        return [note] if note else []

    def refresh(self) -> list[dict[str, Any]]:
        try:
            key = _stat_key(self.path)
        except FileNotFoundError:
            self._key, self._docs = None, []
            return self._docs
        if key != self._key:
            self._docs, self._key = docs(self.path), key
        return self._docs

    def add(self, entry: dict[str, Any], reason: str, at: str) -> None:
        db = open_db(self.path)
        try:
            db.insert(dict(entry, reason=reason, at=at))
        finally:
            db.close()

    def ids(self) -> set[str]:
        return {d["record"]["id"] for d in self.refresh()}


def max_seq(entries: Iterable[dict[str, Any]]) -> int:
    return max((e["record"]["seq"] for e in entries), default=0)
