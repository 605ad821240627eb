"""Checking file permissions: a file's mode bits, and the usual umask."""
from __future__ import annotations

import os
import stat
from contextlib import contextmanager


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


@contextmanager
def usual_umask():
    """The umask most systems have (022): without care, files would be 0644."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)
