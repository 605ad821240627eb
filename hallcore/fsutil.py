"""Atomic, durable file writes (DESIGN.md section 5, rule 4), private by default.

Every file the tablet writes goes through here: temp file in the same folder,
fsync, rename over the target, fsync of the folder. A crash at any point
leaves either the old file or the new one, never a torn mix. Records hold
citizens' phone numbers, so files are created mode 0600 (owner only);
`restrict` takes the "other" bits off a file made by an older version.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

PRIVATE = 0o600


def restrict(path: str | os.PathLike) -> int | None:
    """Take read/write/execute for "others" off an existing file; the new mode
    if it changed, else None. Group bits are kept: 640 for a service group
    is a choice the operator may make."""
    mode = os.stat(path).st_mode & 0o777
    if not mode & 0o007:
        return None
    os.chmod(path, mode & ~0o007)
    return mode & ~0o007


def create_private(path: str | os.PathLike) -> None:
    """Create an empty file of mode 0600 unless it exists (then `restrict` it),
    before a library (SQLite) opens it with its own default of 0644."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE))
    except FileExistsError:
        restrict(path)


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename or create in `folder` survive a power cut."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int = PRIVATE) -> None:
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    fsync_dir(path.parent)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
