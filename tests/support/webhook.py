"""A real webhook receiver on loopback that keeps every alert delivery.

    with Receiver() as hook:             # http://127.0.0.1:<port>/hook
        ...center with [alerts] webhook_url = hook.url...
        hook.posts()                     # every delivery, in arrival order
        hook.count_by_id()               # Counter of alert_id: a repeat shows as 2

`Receiver(hold_first=True)` holds the first delivery open after reading it
(the receiver has accepted the alert, the sender has no answer yet), until
the test calls `release()`: the moment to kill the sending instance.
"""
from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOLD_MAX_S = 120.0          # a held delivery is answered after this at the latest


@dataclass(frozen=True)
class Post:
    alert_id: int | None
    idempotency_key: str | None
    instance: str | None             # X-Hall-Center-Instance: host:pid of the sender
    body: dict


class Receiver:
    def __init__(self, hold_first: bool = False, status: int = 204):
        self.status = status
        self._lock = threading.Lock()
        self._posts: list[Post] = []
        self._hold = hold_first
        self.held = threading.Event()          # set once the first delivery is being held
        self._release = threading.Event()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                post = Post(body.get("alert_id"), self.headers.get("Idempotency-Key"),
                            self.headers.get("X-Hall-Center-Instance"), body)
                with hook._lock:
                    hook._posts.append(post)
                    hold, hook._hold = hook._hold, False
                if hold:
                    hook.held.set()
                    hook._release.wait(HOLD_MAX_S)
                try:
                    self.send_response(hook.status)
                    self.end_headers()
                except OSError:            # the sender is gone (killed while we held it)
                    pass

            def log_message(self, *a):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def posts(self) -> list[Post]:
        with self._lock:
            return list(self._posts)

    def count_by_id(self) -> Counter:
        return Counter(p.alert_id for p in self.posts())

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)

    def __enter__(self) -> "Receiver":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
