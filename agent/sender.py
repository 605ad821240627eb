"""The HTTP side of the agent: POST batches and heartbeats, GET the bundle.

Thin I/O around agent.answer: every outcome, including every network
failure, comes back as a Reply; nothing here decides what it means. The
device token is read from its file (DESIGN.md section 6: secrets live in
files) and re-read when the file changes, so hall IT can rotate a token
without restarting the agent. Each request has a total deadline
([center] total_timeout, agent.watchdog), and `abort()` cuts the one in
flight when the agent stops.
"""
from __future__ import annotations

import json
import os
import socket
from pathlib import Path
from typing import Any, Mapping, Sequence

import requests

from agent.answer import Reply
from agent.config import CenterConfig
from agent.watchdog import Watchdog
from hallcore.fsutil import read_regular_file

USER_AGENT = "hall-agent"
MAX_TOKEN_BYTES = 4096          # a token is a few dozen characters
MAX_ANSWER_BYTES = 8 << 20      # the answer to 500 records is well under 1 MiB


def _network_error(e: requests.RequestException) -> Reply:
    """Name the failure the way hall IT will search for it."""
    if isinstance(e, requests.exceptions.SSLError):
        kind = "tls"
    elif isinstance(e, (requests.exceptions.ConnectTimeout, requests.exceptions.ReadTimeout,
                        requests.exceptions.Timeout)):
        kind = "timeout"
    else:
        chain, c = [], e
        while c is not None and len(chain) < 10:   # walk the cause chain (urllib3 wraps socket errors)
            chain.append(c)
            reason = getattr(c, "reason", None)   # urllib3's MaxRetryError keeps the cause here
            c = (reason if isinstance(reason, BaseException) else None) or c.__cause__ or c.__context__ or (
                c.args[0] if c.args and isinstance(c.args[0], BaseException) else None)
            if c in chain:
                break
        text = " ".join(repr(x) for x in chain)
        if any(isinstance(x, socket.gaierror) for x in chain) or "NameResolution" in text:
            kind = "dns"
        elif any(isinstance(x, ConnectionRefusedError) for x in chain) or "Connection refused" in text:
            kind = "refused"
        else:
            kind = "connection"
    return Reply(None, error=kind, detail=str(e)[:300])


def _cut(why: str, total_s: float) -> Reply:
    if why == "stopped":
        return Reply(None, error="stopped", detail="the agent is stopping")
    return Reply(None, error="deadline", detail=f"no complete answer within total_timeout ({total_s:g} s)")


class _AnswerTooLarge(Exception):
    pass


def _read_answer(r: requests.Response) -> bytes:
    """The body, read in chunks and bounded in size (the watchdog bounds the time)."""
    chunks, size = [], 0
    for chunk in r.iter_content(65536):
        size += len(chunk)
        if size > MAX_ANSWER_BYTES:
            raise _AnswerTooLarge()
        chunks.append(chunk)
    return b"".join(chunks)


class TokenFile:
    """The device token, re-read only when the file changes."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._stamp: tuple[int, int] | None = None
        self._token: str | None = None

    def stamp(self) -> tuple[int, int] | None:
        try:
            st = os.stat(self.path)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size)

    def read(self) -> str:
        """The token; raises OSError/ValueError with a clear message if unusable."""
        stamp = self.stamp()
        if stamp is not None and stamp == self._stamp and self._token:
            return self._token
        # never a plain read: a FIFO put in the file's place would block the agent for good
        try:
            raw = read_regular_file(self.path, MAX_TOKEN_BYTES)
        except ValueError as e:
            raise ValueError(f"token file {e}") from None
        try:
            token = raw.decode("utf-8").strip()
        except UnicodeDecodeError:
            raise ValueError(f"token file {self.path} is not UTF-8 text") from None
        if not token or any(c.isspace() for c in token):
            raise ValueError(f"token file {self.path} must hold exactly one token")
        self._stamp, self._token = stamp, token
        return token


class Sender:
    def __init__(self, center: CenterConfig, device_id: str):
        self.center = center
        self.device_id = device_id
        self.token = TokenFile(center.token_file)
        self.session = requests.Session()
        self.session.verify = str(center.ca_file) if center.ca_file else True
        self.session.headers["User-Agent"] = USER_AGENT
        self.session.trust_env = False   # a proxy from the environment must not reroute records
        self.watchdog = Watchdog()
        for prefix in ("http://", "https://"):
            self.session.mount(prefix, self.watchdog.adapter())
        self.timeout = (center.connect_timeout, center.read_timeout)

    def abort(self) -> None:
        """The agent is stopping: end the request in flight now, send nothing more."""
        self.watchdog.abort()

    def _post(self, path: str, payload: Mapping[str, Any]) -> Reply:
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return self._request("POST", path, body, {"Content-Type": "application/json"})

    def _request(self, method: str, path: str, body: bytes | None = None,
                 headers: Mapping[str, str] | None = None) -> Reply:
        try:
            token = self.token.read()
        except (OSError, ValueError) as e:
            return Reply(None, error="token", detail=str(e))
        total = self.center.total_timeout
        with self.watchdog.guard(total) as guard:
            if guard.tripped:
                return _cut(guard.tripped, total)
            try:
                with self.session.request(method, self.center.url + path, data=body, timeout=self.timeout,
                                          stream=True, headers={"Authorization": f"Bearer {token}",
                                                                **(headers or {})}) as r:
                    return Reply(r.status_code, _read_answer(r))
            except _AnswerTooLarge:
                return Reply(None, error="too_large", detail=f"answer over {MAX_ANSWER_BYTES} bytes, not read")
            except Exception as e:
                if guard.tripped:       # the watchdog shut the socket: whatever broke, that is why
                    return _cut(guard.tripped, total)
                if isinstance(e, requests.RequestException):
                    return _network_error(e)
                raise

    def send_votes(self, records: Sequence[Mapping[str, Any]]) -> Reply:
        return self._post("/api/v1/votes", {"device_id": self.device_id, "votes": list(records)})

    def heartbeat(self, state: Mapping[str, Any]) -> Reply:
        return self._post(f"/api/v1/devices/{self.device_id}/heartbeat", dict(state))

    def get_bundle(self, etag: str | None) -> Reply:
        """GET /api/v1/bundle; 304 (no body) while `etag` is the center's current one."""
        return self._request("GET", "/api/v1/bundle", headers={"If-None-Match": etag} if etag else None)

    def close(self) -> None:
        self.session.close()
