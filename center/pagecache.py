"""A small in-process cache of rendered pages, fresh for `ttl_s` seconds,
with one computation per key at a time: a burst of requests for a cold or
stale key waits for the first one's result instead of each running the
query set (the public page, center/web/public.py).
"""
from __future__ import annotations

import threading
import time
from typing import Any, Callable, Hashable


class PageCache:
    def __init__(self, ttl_s: float, *, max_entries: int = 64, now: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.now = now
        self._entries: dict[Hashable, tuple[float, Any]] = {}
        self._locks: dict[Hashable, threading.Lock] = {}
        self._guard = threading.Lock()
        self.computed = 0               # how many times a value was computed (tests, the bench)

    def _fresh(self, key: Hashable) -> tuple[bool, Any]:
        hit = self._entries.get(key)
        if hit is not None and self.now() - hit[0] < self.ttl_s:
            return True, hit[1]
        return False, None

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The key's value, computed by `compute` when absent or older than
        ttl_s. An exception from `compute` is raised and nothing is cached."""
        with self._guard:
            ok, value = self._fresh(key)
            if ok:
                return value
            if len(self._locks) > 4 * self.max_entries:
                self._locks = {k: v for k, v in self._locks.items() if v.locked()}
            lock = self._locks.setdefault(key, threading.Lock())
        with lock:
            with self._guard:
                ok, value = self._fresh(key)     # another thread computed it while we waited
            if ok:
                return value
            value = compute()
            self.computed += 1
            with self._guard:
                if key not in self._entries and len(self._entries) >= self.max_entries:
                    self._entries.pop(next(iter(self._entries)))     # the oldest inserted
                self._entries.pop(key, None)
                self._entries[key] = (self.now(), value)
            return value

    def clear(self) -> None:
        """Forget every value (a change the pages show was made in this process)."""
        with self._guard:
            self._entries.clear()


__all__ = ["PageCache"]
