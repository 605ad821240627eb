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
import re
from pathlib import Path
from typing import Any, Iterable

from outbox.tinystore import StoreDamaged, parse_json
from hallcore.fsutil import PRIVATE, atomic_write_json, fsync_dir
from hallcore.record import parse_time

log = logging.getLogger(__name__)
SUFFIX = ".json"
_ID = re.compile(r"^[0-9a-fA-F-]{36}$")


def entry(record: dict[str, Any], put_at: str) -> dict[str, Any]:
    """What one spool file holds: the record and when the outbox took it."""
    return {"record": record, "put_at": put_at}


def parse_entry(raw: bytes, path: Path) -> dict[str, Any]:
    """The entry in `raw`, checked; StoreDamaged naming what is wrong."""
    e = parse_json(raw, path)
    if not isinstance(e, dict) or not isinstance(e.get("record"), dict) or not isinstance(e.get("put_at"), str):
        raise StoreDamaged(path, "not a spool entry {record: {...}, put_at: ...}")
    # put() validated the record in full; start-up checks only what the outbox
    # relies on (full validation of 10,000 files would slow the kiosk's start).
    rec = e["record"]
    seq = rec.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise StoreDamaged(path, f"seq={seq!r}: expected an integer >= 1")
    if parse_time(rec.get("prompted_at")) is None:
        raise StoreDamaged(path, f"prompted_at={rec.get('prompted_at')!r}: expected an ISO 8601 time")
    if path.name != f"{rec.get('id')}{SUFFIX}":
        raise StoreDamaged(path, f"holds record {e['record']['id']}, not the one its name says")
    return e


class Spool:
    def __init__(self, folder: Path):
        self.folder = folder
        self._cache: dict[str, dict[str, Any]] = {}   # id -> entry; files never change

    def path(self, record_id: str) -> Path:
        if not _ID.match(record_id):
            # Ids come from the center's answers too: never let one name a file elsewhere.
            raise KeyError(f"{record_id!r} is not a record id (a UUID)")
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
            fd = os.open(self.path(e["record"]["id"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE)
            with os.fdopen(fd, "wb") as f:
                f.write(data)

    def exists(self, record_id: str) -> bool:
        return self.path(record_id).exists()

    def ids(self) -> list[str]:
        return [n[:-len(SUFFIX)] for n in os.listdir(self.folder)
                if n.endswith(SUFFIX) and _ID.match(n[:-len(SUFFIX)])]

    def read(self, record_id: str, *, still_there: bool = False) -> dict[str, Any] | None:
        """The entry for `record_id`, or None if it is not (or no longer) pending.

        `still_there` checks the file still exists even when cached (another
        process may have moved it); needed before moving a record.
        """
        try:
            p = self.path(record_id)
        except KeyError:
            return None
        e = self._cache.get(record_id)
        if e is not None:
            if still_there and not p.exists():
                del self._cache[record_id]
                return None
            return e
        try:
            e = parse_entry(p.read_bytes(), p)
        except FileNotFoundError:
            return None
        except StoreDamaged as err:
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
        """Start-up: move every unreadable or stray file to `damaged_folder`; messages say which."""
        notes = []
        for name in sorted(os.listdir(self.folder)):
            p = self.folder / name
            if name.startswith("."):
                continue       # temp files: the outbox removes them at start-up
            try:
                if not (name.endswith(SUFFIX) and _ID.match(name[:-len(SUFFIX)])):
                    raise StoreDamaged(p, "not a pending record file (<record id>.json)")
                self._cache[name[:-len(SUFFIX)]] = parse_entry(p.read_bytes(), p)
            except (StoreDamaged, IsADirectoryError) as err:
                damaged_folder.mkdir(exist_ok=True)
                target = _free_name(damaged_folder, name)
                os.replace(p, target)
                fsync_dir(self.folder)
                notes.append(f"pending file {name} is damaged ({err}); moved to "
                             f"{damaged_folder.name}/{target.name} for inspection; its record cannot be sent")
        return notes


def _free_name(folder: Path, name: str) -> Path:
    """`folder/name`, or `name.1`, `name.2` ... if taken: a file set aside earlier
    under the same name is evidence too and must not be overwritten."""
    target = folder / name
    for n in range(1, 10_000):
        if not os.path.lexists(target):
            return target
        target = folder / f"{name}.{n}"
    return target
