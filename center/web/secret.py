"""The dashboard's secret key, kept in a file the center creates (mode 0600).

It signs the login form's CSRF token (center/web/auth.py), so every center
instance behind one load balancer must read the same key: the same file
(instances on one machine share the config), or a copy of it on each
machine (docs/deploy-nginx.md). Sessions themselves are rows in the
database and need no key.
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from hallcore.fsutil import PRIVATE, fsync_dir, restrict


def session_secret(path: Path | None) -> str:
    """The key: read from its file (readable by others no longer), created
    (0600) on first start. Two instances starting together both read the
    one key: the file appears whole or not at all (written under a temp
    name, then hard-linked to its name, which fails if the other came first)."""
    if path is None:
        return secrets.token_hex(32)
    try:
        restrict(path)
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass                     # another instance wrote it first: use that one
        fsync_dir(path.parent)
    finally:
        tmp.unlink(missing_ok=True)
    return path.read_text(encoding="utf-8").strip()
