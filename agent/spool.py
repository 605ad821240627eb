"""The pending spool: one small JSON file per record not yet acknowledged.

A put writes exactly one new file (`pending/<id>.json`) atomically, so its
cost does not depend on how many records are pending or archived. Files are
written once and never changed, only deleted when the center acknowledged
(or rejected) the record; readers can therefore cache them by name.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Iterable

from hallcore.fsutil import atomic_write_json, fsync_dir
from hallcore.record import RecordError, check_record

log = logging.getLogger(__name__)
SUFFIX = ".json"


class SpoolFileDamaged(Exception):
    def __init__(self, path: Path, why: str):
        self.path = path
        super().__init__(f"{path}: {why}")


def entry(record: dict[str, Any], put_at: str) -> dict[str, Any]:
    """What one spool file holds: the record and when the outbox took it."""
    return {"record": record, "put_at": put_at}


def parse_entry(raw: bytes, path: Path) -> dict[str, Any]:
    """The entry in `raw`, checked; SpoolFileDamaged naming what is wrong."""
    if not raw.strip():
        raise SpoolFileDamaged(path, f"file is empty ({len(raw)} bytes)")
    try:
        e = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise SpoolFileDamaged(path, f"not valid JSON ({err})") from None
    if not isinstance(e, dict) or not isinstance(e.get("record"), dict) or not isinstance(e.get("put_at"), str):
        raise SpoolFileDamaged(path, "not a spool entry {record: {...}, put_at: ...}")
    try:
        check_record(e["record"])
    except RecordError as err:
        raise SpoolFileDamaged(path, str(err)) from None
    if path.name != e["record"]["id"] + SUFFIX:
        raise SpoolFileDamaged(path, f"holds record {e['record']['id']}, not the one its name says")
    return e


class Spool:
    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: dict[str, dict[str, Any]] = {}   # id -> entry; files never change

    def path(self, record_id: str) -> Path:
        return self.folder / (record_id + SUFFIX)

    def write(self, record: dict[str, Any], put_at: str) -> None:
        """Durably add one record (fsync of file and folder)."""
        e = entry(record, put_at)
        atomic_write_json(self.path(record["id"]), e)
        self._cache[record["id"]] = e

    def write_many_unsynced(self, entries: Iterable[dict[str, Any]]) -> None:
        """Bulk path for building test and benchmark states fast: no fsync."""
        for e in entries:
            data = json.dumps(e, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            self.path(e["record"]["id"]).write_bytes(data)

    def exists(self, record_id: str) -> bool:
        return self.path(record_id).exists()

    def ids(self) -> list[str]:
        return [n[:-len(SUFFIX)] for n in os.listdir(self.folder)
                if n.endswith(SUFFIX) and not n.startswith(".")]

    def read(self, record_id: str) -> dict[str, Any] | None:
        """The entry for `record_id`, or None if it is not (or no longer) pending."""
        e = self._cache.get(record_id)
        if e is not None:
            return e
        p = self.path(record_id)
        try:
            e = parse_entry(p.read_bytes(), p)
        except FileNotFoundError:
            return None
        except SpoolFileDamaged as err:
            # Only possible by outside damage after start-up; the start-up check moves it aside.
            log.error("outbox: unreadable pending file skipped until restart: %s", err)
            return None
        self._cache[record_id] = e
        return e

    def entries(self) -> list[dict[str, Any]]:
        """Every pending entry now on disk (cached by name: files never change)."""
        ids = self.ids()
        live = set(ids)
        for gone in [i for i in self._cache if i not in live]:
            del self._cache[gone]
        out = []
        for i in ids:
            e = self.read(i)
            if e is not None:
                out.append(e)
        return out

    def remove(self, ids: Iterable[str]) -> None:
        """Delete the files of `ids` (already stored elsewhere), durably."""
        removed = False
        for i in ids:
            self._cache.pop(i, None)
            try:
                os.unlink(self.path(i))
                removed = True
            except FileNotFoundError:
                pass
        if removed:
            fsync_dir(self.folder)

    def check_all(self, damaged_folder: Path) -> list[str]:
        """Start-up: move every unreadable file to `damaged_folder`; messages say which."""
        notes = []
        for i in self.ids():
            p = self.path(i)
            try:
                self._cache[i] = parse_entry(p.read_bytes(), p)
            except SpoolFileDamaged as err:
                damaged_folder.mkdir(exist_ok=True)
                os.replace(p, damaged_folder / p.name)
                fsync_dir(self.folder)
                notes.append(f"pending file {p.name} is damaged ({err}); moved to "
                             f"{damaged_folder.name}/ for inspection; its record cannot be sent")
        return notes
