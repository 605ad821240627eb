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

import json
import os
import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Iterable, Iterator

from outbox.tinystore import open_db, parse_tinydb, recover
from hallcore.fsutil import atomic_write_json

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


def _seqs(entries: Iterable[dict[str, Any]]) -> dict[str, int]:
    return {e["record"]["id"]: e["record"]["seq"] for e in entries}


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

    def _index_path(self, name: str) -> Path:
        return self.folder / (name[:-len(".json")] + ".idx")

    def _read_index(self, name: str, key: tuple[int, int, int]) -> _Part | None:
        """The part's sidecar index, if it was written for exactly this file version."""
        try:
            idx = json.loads(self._index_path(name).read_bytes())
            if tuple(idx["key"]) == key and isinstance(idx["seqs"], dict):
                return _Part(key, idx["seqs"])
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def _write_index(self, name: str, part: _Part) -> None:
        atomic_write_json(self._index_path(name), {"key": list(part.key), "seqs": part.seqs})

    def _load(self, name: str, data: dict[str, Any] | None = None, save: bool = False) -> None:
        """Index part `name`: from its sidecar if it matches the file, else by
        parsing it (and, with `save`, only under the move lock, rewriting the sidecar)."""
        p = self.folder / name
        key = _stat_key(p)
        part = self._read_index(name, key)
        if part is None:
            entries = data.get("_default", {}).values() if data is not None else docs(p)
            part = _Part(key, _seqs(entries))
            if save:
                self._write_index(name, part)
        self._parts[name] = part

    def recover_all(self) -> list[str]:
        """Start-up: check and index every part; restore damaged ones from their previous generation.

        A part whose size, mtime and inode still match its sidecar index
        (`<part>.idx`, written after each write of the part) is not re-parsed:
        parts are written atomically and never touched again once full, so
        only a changed file can be damaged. This keeps start-up fast with a
        long history.
        """
        notes = []
        self._parts.clear()
        for n in self.names():
            p = self.folder / n
            if self._read_index(n, _stat_key(p)) is None:
                data, note = recover(p)
                if note:
                    notes.append(note)
                self._load(n, data, save=True)
            else:
                self._load(n)
        return notes

    def refresh(self) -> None:
        """Re-index only the parts that changed since last time (any process)."""
        names = self.names()
        for gone in set(self._parts) - set(names):
            del self._parts[gone]
        for n in names:
            cached = self._parts.get(n)
            if cached is None or cached.key != _stat_key(self.folder / n):
                self._load(n)

    def where(self) -> dict[str, str]:
        """Record id -> part name, for every archived record (after refresh())."""
        return {i: n for n, part in self._parts.items() for i in part.seqs}

    def count(self) -> int:
        return sum(len(p.seqs) for p in self._parts.values())

    def max_seq(self) -> int:
        return max((max(p.seqs.values(), default=0) for p in self._parts.values()), default=0)

    def highest(self) -> dict[str, Any] | None:
        """The archived entry with the highest seq (after refresh()), or None."""
        best = max(((seq, i, n) for n, part in self._parts.items() for i, seq in part.seqs.items()), default=None)
        return self.find(best[1], best[2]) if best is not None else None

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
            before = self._parts.get(name)
            part = _Part(_stat_key(self.folder / name), {**(before.seqs if before else {}), **_seqs(chunk)})
            self._write_index(name, part)
            self._parts[name] = part
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
        _, note = recover(self.path)
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
