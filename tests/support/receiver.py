"""The reference receiver: a real HTTP server on 127.0.0.1 playing the
provincial 好差评 system for the upstream tests.

It answers as the shipped profile reads answers ({"code": "200", "msg": …}),
keeps what it accepted keyed by (办件编号, 评价次数) per path (evaluations and
整改 results go to their own URLs), answers a repeat "评价数据不可重复" as the
provinces do, and on command answers 500s (an outage) or holds answers past
the center's timeout (it still stores those: the province got the message,
the center never heard so). Every request is kept, in order, for the tests.

    with ProvinceReceiver() as p:
        p.url("/evaluation"), p.down(), p.up(), p.hold_next(2.5)
        p.accepted("/evaluation")      # {(projectNo, assessNumber): payload}
"""
from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

OK = {"code": "200", "msg": "成功"}
DUPLICATE = {"code": "500", "msg": "评价数据不可重复"}
MAX_HOLD_S = 30.0


@dataclass
class Seen:
    path: str
    key: tuple[Any, Any] | None
    payload: Any
    headers: dict[str, str]
    answer: str                  # accepted | duplicate | error
    status: int
    held_s: float                # how long it was held before the answer


@dataclass
class _State:
    lock: threading.Lock = field(default_factory=threading.Lock)
    accepted: dict[str, dict[tuple, Any]] = field(default_factory=dict)
    order: list[tuple[str, tuple]] = field(default_factory=list)    # (path, key) in order of acceptance
    seen: list[Seen] = field(default_factory=list)
    down_status: int | None = None         # answer every request with this status
    fail_next: int = 0                      # this many more requests get 500
    hold: list[float] = field(default_factory=list)    # the next requests wait this long first


class ProvinceReceiver:
    def __init__(self, key_fields: tuple[str, str] = ("projectNo", "assessNumber")):
        self.key_fields = key_fields
        self.state = _State()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="province", daemon=True)
        self.thread.start()

    # ---------------------------------------------------------------- commands

    def url(self, path: str = "/evaluation") -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}{path}"

    def down(self, status: int = 500) -> None:
        with self.state.lock:
            self.state.down_status = status

    def up(self) -> None:
        with self.state.lock:
            self.state.down_status = None

    def fail(self, n: int) -> None:
        """Answer the next `n` requests with 500."""
        with self.state.lock:
            self.state.fail_next = n

    def hold_next(self, seconds: float) -> None:
        """The next request waits `seconds` before it is answered (and stored)."""
        with self.state.lock:
            self.state.hold.append(min(seconds, MAX_HOLD_S))

    def preload(self, path: str, key: tuple, payload: Any = None) -> None:
        """As if the province already had this message (sent before the center forgot it did)."""
        with self.state.lock:
            self.state.accepted.setdefault(path, {})[key] = payload

    # ---------------------------------------------------------------- what it got

    def accepted(self, path: str = "/evaluation") -> dict[tuple, Any]:
        with self.state.lock:
            return dict(self.state.accepted.get(path, {}))

    def order(self) -> list[tuple[str, tuple]]:
        with self.state.lock:
            return list(self.state.order)

    def seen(self) -> list[Seen]:
        with self.state.lock:
            return list(self.state.seen)

    def answers(self, answer: str) -> int:
        return sum(1 for s in self.seen() if s.answer == answer)

    # ---------------------------------------------------------------- the server

    def _handler(self):
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):       # quiet
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                st = receiver.state
                with st.lock:
                    hold = st.hold.pop(0) if st.hold else 0.0
                    down = st.down_status
                    failing = st.fail_next > 0
                    if failing:
                        st.fail_next -= 1
                if hold:
                    time.sleep(hold)
                try:
                    payload = json.loads(raw.decode("utf-8"))
                    key = tuple(payload[f] for f in receiver.key_fields)
                except (ValueError, KeyError, TypeError):
                    payload, key = None, None
                headers = {k.lower(): v for k, v in self.headers.items()}
                if down is not None or failing:
                    status, body, answer = down or 500, {"code": "500", "msg": "系统繁忙"}, "error"
                elif key is None:
                    status, body, answer = 400, {"code": "400", "msg": "报文格式错误"}, "error"
                else:
                    with st.lock:
                        got = st.accepted.setdefault(self.path, {})
                        if key in got:
                            status, body, answer = 200, DUPLICATE, "duplicate"
                        else:
                            got[key] = payload
                            st.order.append((self.path, key))
                            status, body, answer = 200, OK, "accepted"
                with st.lock:
                    st.seen.append(Seen(self.path, key, payload, headers, answer, status, hold))
                data = json.dumps(body, ensure_ascii=False).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json; charset=utf-8")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:                   # the center gave up waiting: it is stored all the same
                    pass

        return Handler

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)

    def __enter__(self) -> "ProvinceReceiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
