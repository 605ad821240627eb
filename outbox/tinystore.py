"""A TinyDB storage that never loses a file (DESIGN.md section 5, rule 4).

TinyDB's own JSONStorage truncates and rewrites its file in place, and reads
a 0-byte file as an empty database. This storage instead:

- writes through hallcore.fsutil (temp file, fsync, rename, fsync folder), and
  before each write keeps the previous generation as `<name>.prev` (a hard
  link, so it costs no copy);
- refuses to read an empty, torn or garbage file (raises StoreDamaged) rather
  than handing TinyDB an empty database;
- `recover(path)` restores a damaged file from its previous generation at
  start-up, or says clearly that it cannot.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.storages import Storage

from hallcore.fsutil import atomic_write_bytes, atomic_write_json

PREV_SUFFIX = ".prev"


class StoreDamaged(Exception):
    """A store file is empty, torn or not what it should hold; names the file."""

    def __init__(self, path: Path, why: str):
        self.path = Path(path)
        self.why = why
        super().__init__(f"{path}: {why}")


def parse_json(raw: bytes, path: Path) -> Any:
    """The JSON in a store file's bytes; StoreDamaged if empty, torn or garbage.

    Every store file holds a non-empty JSON object, so an empty file is damage,
    never "no data".
    """
    if not raw.strip():
        raise StoreDamaged(path, f"file is empty ({len(raw)} bytes)")
    try:
        return json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as e:
        raise StoreDamaged(path, f"not valid JSON ({e}); torn or overwritten") from None


def parse_tinydb(raw: bytes, path: Path) -> dict[str, Any]:
    """The TinyDB tables in `raw`, or StoreDamaged saying what is wrong."""
    data = parse_json(raw, path)
    if not isinstance(data, dict) or not all(isinstance(t, dict) for t in data.values()):
        raise StoreDamaged(path, "JSON is not a TinyDB document {table: {doc_id: doc}}")
    for table in data.values():
        if not all(isinstance(doc, dict) for doc in table.values()):
            raise StoreDamaged(path, "a TinyDB table holds something that is not a document")
    return data


def prev_path(path: Path) -> Path:
    return path.with_name(path.name + PREV_SUFFIX)


class AtomicJSONStorage(Storage):
    """TinyDB Storage: atomic, durable writes; refuses damaged files."""

    def __init__(self, path: str | os.PathLike, **_: Any):
        self.path = Path(path)

    def read(self) -> dict[str, Any] | None:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None          # a new database; TinyDB creates its tables
        return parse_tinydb(raw, self.path)

    def write(self, data: dict[str, Any]) -> None:
        if self.path.exists():
            # Keep the last good generation: link it aside before replacing.
            tmp = self.path.with_name(f".{self.path.name}.prev.{os.getpid()}.tmp")
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            os.link(self.path, tmp)
            os.replace(tmp, prev_path(self.path))
        atomic_write_json(self.path, data)

    def close(self) -> None:
        pass


def open_db(path: Path) -> TinyDB:
    return TinyDB(path, storage=AtomicJSONStorage)


def recover(path: Path) -> tuple[dict[str, Any] | None, str | None]:
    """Check `path` at start-up; restore it from its previous generation if damaged.

    Returns (its TinyDB tables or None if absent, a message when something
    was recovered). Raises StoreDamaged when neither generation is readable.
    """
    try:
        return parse_tinydb(path.read_bytes(), path), None
    except FileNotFoundError:
        return None, None
    except StoreDamaged as damage:
        prev = prev_path(path)
        try:
            raw = prev.read_bytes()
            data = parse_tinydb(raw, prev)
        except FileNotFoundError:
            raise StoreDamaged(path, f"{damage.why}; no previous generation {prev.name} to recover from") from None
        except StoreDamaged as e:
            raise StoreDamaged(path, f"{damage.why}; previous generation is damaged too ({e.why})") from None
        # Keep the damaged bytes for inspection, then restore the last good
        # generation; `path` exists throughout, so a crash here changes nothing.
        damaged = path.with_name(path.name + ".damaged")
        atomic_write_bytes(damaged, path.read_bytes())
        atomic_write_bytes(path, raw)
        return data, (f"{path.name} was damaged ({damage.why}); restored from its previous generation "
                      f"{prev.name}; damaged copy kept as {damaged.name}; changes of its last write are lost")
