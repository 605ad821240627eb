"""The dashboard's secret key, kept in a file the center creates (mode 0600)."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from hallcore.fsutil import PRIVATE, restrict


def session_secret(path: Path | None) -> str:
    """The key: read from its file (readable by others no longer), created
    (0600) on first start."""
    if path is None:
        return secrets.token_hex(32)
    try:
        restrict(path)
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        path.parent.mkdir(parents=True, exist_ok=True)
        key = secrets.token_hex(32)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE)
        with os.fdopen(fd, "w") as f:
            f.write(key)
        return key
