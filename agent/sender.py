"""The HTTP side of the agent: POST batches and heartbeats to the center.

Thin I/O around agent.answer: every outcome, including every network
failure, comes back as a Reply; nothing here decides what it means. The
device token is read from its file (DESIGN.md section 6: secrets live in
files) and re-read when the file changes, so hall IT can rotate a token
without restarting the agent.
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

USER_AGENT = "hall-agent"


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
        token = self.path.read_text(encoding="utf-8").strip()
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
        self.timeout = (center.connect_timeout, center.read_timeout)

    def _post(self, path: str, payload: Mapping[str, Any]) -> Reply:
        try:
            token = self.token.read()
        except (OSError, ValueError) as e:
            return Reply(None, error="token", detail=str(e))
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            r = self.session.post(self.center.url + path, data=body, timeout=self.timeout,
                                  headers={"Authorization": f"Bearer {token}",
                                           "Content-Type": "application/json"})
            return Reply(r.status_code, r.content)
        except requests.RequestException as e:
            return _network_error(e)

    def send_votes(self, records: Sequence[Mapping[str, Any]]) -> Reply:
        return self._post("/api/v1/votes", {"device_id": self.device_id, "votes": list(records)})

    def heartbeat(self, state: Mapping[str, Any]) -> Reply:
        return self._post(f"/api/v1/devices/{self.device_id}/heartbeat", dict(state))

    def close(self) -> None:
        self.session.close()
