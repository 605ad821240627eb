"""Password checks (scrypt, CPU-bound) kept off the shared worker threads.

The vote API's handlers run on AnyIO's shared worker threads. A password
check runs instead on its own small thread pool, so a login flood never
takes the threads the votes need. Only a few logins are admitted at a time
(the few running and waiting checks, with their user lookups); the others
are answered 429 at once instead of piling up. hashlib.scrypt releases the
GIL, so a running check does not stall the event loop either, and its
thread runs at a lower CPU priority (nice +10, Linux sets it per thread), so
on a small server the votes get the CPU first.
"""
from __future__ import annotations

import asyncio
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Iterator

from ..auth import check_password


NICE = 10


def _lower_priority() -> None:
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), NICE)
    except (AttributeError, OSError):
        pass        # not Linux, or not allowed: the checks still run, at normal priority


class HashingBusy(Exception):
    """Too many logins are being checked right now; try again shortly."""


class PasswordChecks:
    def __init__(self, threads: int = 1, waiting: int = 8):
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="password-check",
                                        initializer=_lower_priority)
        self._slots = threading.BoundedSemaphore(threads + waiting)   # running + waiting

    @contextmanager
    def admitted(self) -> Iterator[None]:
        """A place among the logins being checked, or HashingBusy at once."""
        if not self._slots.acquire(blocking=False):
            raise HashingBusy()
        try:
            yield
        finally:
            self._slots.release()

    async def check(self, password: str, stored: str) -> bool:
        """Whether `password` matches `stored`, computed on the pool's own thread."""
        return await asyncio.wrap_future(self._pool.submit(check_password, password, stored))
