"""A total deadline for each request to the center, and a way to abort one.

requests' timeouts bound each socket operation, not the request: a center
that sends its headers and then one byte a second never trips a 15 s read
timeout, and held the agent (no heartbeat, no status, SIGTERM waiting) for as
long as it liked. The Watchdog owns a duplicate descriptor of every socket
the agent's HTTP session opens; when a request's deadline passes, or the
agent is told to stop, it shuts those sockets down, so the read blocked on
them returns at once (also inside a TLS handshake, before urllib3 has the
socket). Shutting down a duplicate never closes urllib3's own descriptor.

The session's connection classes are made per Watchdog (`adapter()`), the
hook urllib3 offers for custom connections (`ConnectionCls`).
"""
from __future__ import annotations

import socket
import threading
from contextlib import contextmanager
from typing import Iterator

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

DEADLINE, STOPPED = "deadline", "stopped"   # Reply.error kinds, see agent/answer.py


class Watchdog:
    def __init__(self) -> None:
        # reentrant: abort() also runs from a signal handler on the thread that is inside guard()
        self._lock = threading.RLock()
        self._handles: dict[int, socket.socket] = {}   # id(connection) -> duplicate of its socket
        self._request = 0                              # generation, so a late timer hits nothing
        self._tripped: str | None = None               # why the current request is being cut
        self._stopped = False

    @property
    def stopped(self) -> bool:
        return self._stopped

    @contextmanager
    def guard(self, total_s: float) -> Iterator["Watchdog"]:
        """One request: its sockets are shut down if it still runs after `total_s`.
        Inside, `tripped` says whether (and why) the request was cut."""
        with self._lock:
            self._request += 1
            gen = self._request
            self._tripped = STOPPED if self._stopped else None
        timer = threading.Timer(total_s, self._expire, args=(gen,))
        timer.daemon = True
        timer.start()
        try:
            yield self
        finally:
            timer.cancel()
            with self._lock:
                self._request += 1      # a timer that fires now finds another generation

    @property
    def tripped(self) -> str | None:
        return self._tripped

    def _expire(self, gen: int) -> None:
        with self._lock:
            if gen == self._request and self._tripped is None:
                self._trip(DEADLINE)

    def abort(self) -> None:
        """The agent stops (SIGTERM): cut the request in flight and refuse new ones.
        Safe to call from a signal handler."""
        self._stopped = True
        with self._lock:
            self._trip(STOPPED)

    def _trip(self, why: str) -> None:
        self._tripped = why
        for handle in list(self._handles.values()):
            _shut(handle)

    # ------------------------------------------------------------ called by the connections

    def track(self, conn: object, sock: socket.socket) -> None:
        handle = sock.dup()
        with self._lock:
            old = self._handles.pop(id(conn), None)
            self._handles[id(conn)] = handle
            tripped = self._tripped is not None
        if old is not None:
            old.close()
        if tripped:
            _shut(handle)    # tripped while this socket was being opened: it must not outlive the cut

    def untrack(self, conn: object) -> None:
        with self._lock:
            handle = self._handles.pop(id(conn), None)
        if handle is not None:
            handle.close()

    def tracked(self) -> int:
        """How many sockets it holds (one per open connection), for tests."""
        with self._lock:
            return len(self._handles)

    def adapter(self) -> HTTPAdapter:
        """A requests adapter whose connections this watchdog can cut."""
        return _WatchedAdapter(self)


def _shut(handle: socket.socket) -> None:
    try:
        handle.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass      # already closed by the peer


class _Watched:
    """Mixin for urllib3 connections: hands each new socket to the watchdog."""
    watchdog: Watchdog

    def _new_conn(self):  # type: ignore[no-untyped-def]
        sock = super()._new_conn()   # type: ignore[misc]
        self.watchdog.track(self, sock)
        return sock

    def close(self) -> None:
        try:
            super().close()   # type: ignore[misc]
        finally:
            self.watchdog.untrack(self)

    def __del__(self) -> None:
        # a connection urllib3 drops without close() must not leave its duplicate open
        self.watchdog.untrack(self)


class _WatchedAdapter(HTTPAdapter):
    def __init__(self, watchdog: Watchdog):
        self._watchdog = watchdog
        super().__init__()

    def init_poolmanager(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        super().init_poolmanager(*args, **kwargs)
        w = self._watchdog
        http = type("WatchedHTTPConnection", (_Watched, HTTPConnection), {"watchdog": w})
        https = type("WatchedHTTPSConnection", (_Watched, HTTPSConnection), {"watchdog": w})
        self.poolmanager.pool_classes_by_scheme = {
            "http": type("WatchedHTTPPool", (HTTPConnectionPool,), {"ConnectionCls": http}),
            "https": type("WatchedHTTPSPool", (HTTPSConnectionPool,), {"ConnectionCls": https}),
        }
