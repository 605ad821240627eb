"""Atomic, durable file writes (DESIGN.md section 5, rule 4), private by default.

Every file the tablet writes goes through here: temp file in the same folder,
fsync, rename over the target, fsync of the folder. A crash at any point
leaves either the old file or the new one, never a torn mix. Records hold
citizens' phone numbers, so files are created mode 0600 (owner only);
`restrict` takes the "other" bits off a file made by an older version.
"""
from __future__ import annotations

import errno
import json
import os
import stat
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


def is_disk_full(e: OSError) -> bool:
    """The file system (or the user's quota) has no room left."""
    return e.errno in (errno.ENOSPC, errno.EDQUOT)


def disk_full_path(e: BaseException | None) -> str | None:
    """If `e`, or what caused it (an OutboxError wraps the OSError), is a full
    disk: the file that could not be written ("?" when unnamed); else None."""
    seen = 0
    while e is not None and seen < 10:     # a cause chain is short; bounded anyway
        if isinstance(e, OSError) and is_disk_full(e):
            return str(e.filename) if e.filename is not None else "?"
        e, seen = e.__cause__ or e.__context__, seen + 1
    return None


def naming(e: OSError, path: str | os.PathLike) -> OSError:
    """`e` naming `path`: os.write and os.fsync name no file, and a temp file's
    name would not tell hall IT which file could not be written."""
    if e.errno is None or (e.filename == str(path) and e.filename2 is None):
        return e
    return OSError(e.errno, e.strerror or str(e), str(path))   # the errno's subclass, e.g. PermissionError


def fsync_dir(folder: str | os.PathLike) -> None:
    """Make a rename or create in `folder` survive a power cut."""
    try:
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise naming(e, folder) from None


def atomic_write_bytes(path: str | os.PathLike, data: bytes, mode: int = PRIVATE) -> None:
    """Replace `path` with `data`, durably, created with `mode` (private by
    default: tablet files hold phone numbers). An OSError names `path` (the
    target, not the temp file); a failed write leaves the old file and no
    temp file behind (a full disk gets its room back)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise naming(e, path) from None
    fsync_dir(path.parent)


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    atomic_write_bytes(path, json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def file_kind(mode: int) -> str:
    """A stat mode in words, for error messages."""
    if stat.S_ISREG(mode):
        return "a regular file"
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def regular_file_problem(path: str | os.PathLike) -> str | None:
    """Why `path` is not an existing regular file, or None. Only stats it (never
    opens it), so a named pipe in place of a file cannot block the caller."""
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        return f"{path} does not exist"
    except OSError as e:
        return f"{path} cannot be looked at ({e.strerror or e})"
    return None if stat.S_ISREG(mode) else f"{path} is {file_kind(mode)}, not a regular file"


def read_regular_file(path: str | os.PathLike, max_bytes: int) -> bytes:
    """The bytes of the regular file `path` (at most `max_bytes`).

    Opened non-blocking and checked on the open descriptor, so a FIFO or a
    device put in the file's place is refused at once instead of blocking
    (a FIFO) or never ending (/dev/zero). Raises OSError when it cannot be
    opened, ValueError naming the path when it is not a regular file or is
    larger than `max_bytes`.
    """
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise ValueError(f"{path} is {file_kind(mode)}, not a regular file")
        with os.fdopen(os.dup(fd), "rb") as f:
            data = f.read(max_bytes + 1)
    finally:
        os.close(fd)
    if len(data) > max_bytes:
        raise ValueError(f"{path} is larger than {max_bytes} bytes")
    return data


def file_stamp(path: Path) -> tuple[int, int, int] | None:
    """What changes when a file is replaced or rewritten (mtime, size, inode),
    or None while it cannot be read: for reloading a file when it changes."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)
