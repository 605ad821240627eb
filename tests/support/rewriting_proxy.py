"""A loopback HTTP proxy in front of the real center that can change the
bundle it answers (the real center only sends bundles it checked):

    with RewritingProxy(center.url) as proxy:
        proxy.bundle = lambda body: tampered(body, ...)   # the 200 answer's new body
        proxy.drop_bundle = True                          # close the connection instead
        proxy.url                                         # what the agent talks to

Every other request is relayed unchanged; `proxy.seen` lists (method, path, status, body length).
"""
from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable

import requests

HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "content-encoding"}


class RewritingProxy:
    def __init__(self, upstream: str):
        self.upstream = upstream.rstrip("/")
        self.bundle: Callable[[bytes], bytes] | None = None
        self.drop_bundle = False
        self.seen: list[tuple[str, str, int, int]] = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def _relay(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length) if length else None
                is_bundle = self.path.startswith("/api/v1/bundle")
                if is_bundle and proxy.drop_bundle:
                    self.close_connection = True
                    self.connection.close()
                    return
                skip = HOP | {"host"}
                if is_bundle and proxy.bundle is not None:
                    skip |= {"if-none-match"}        # the changed bundle is new to the tablet: a 200 to rewrite
                headers = {k: v for k, v in self.headers.items() if k.lower() not in skip}
                r = requests.request(self.command, proxy.upstream + self.path, data=body, headers=headers,
                                     timeout=10)
                content = r.content
                if is_bundle and r.status_code == 200 and proxy.bundle is not None:
                    content = proxy.bundle(content)
                proxy.seen.append((self.command, self.path, r.status_code, len(content)))
                self.send_response(r.status_code)
                for k, v in r.headers.items():
                    if k.lower() not in HOP:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(content)))
                self.end_headers()
                self.wfile.write(content)

            do_GET = do_POST = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "RewritingProxy":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
