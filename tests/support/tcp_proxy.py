"""A loopback TCP proxy in front of the real center that can be told to misbehave.

The real center cannot be asked to fail, so fault tests put this between the
agent and it:

    PASS     forward bytes both ways (the center answers)
    REFUSE   nothing listens on the port: connection refused
    HANG     accept and read, never answer (the agent's read timeout fires)
    HTTP500  answer every request with 500 Internal Server Error
    LOSE     forward the request, let the center store it, then drop its
             answer and close (the agent must resend; the center says duplicate)
    TRICKLE  answer 200 with its headers at once, then one byte of body every
             `trickle_every` seconds, for longer than any test runs (per-read
             timeouts never fire; only a total deadline ends the request)
    TRICKLE_VOTES  trickle the answers to POST /api/v1/votes only; every other
             request (the heartbeat) is relayed to the center and answered

Changing the mode closes every open connection, so pooled keep-alive
connections cannot slip past a fault. With `tls` (a server SSLContext) it
also terminates HTTPS, so the agent's CA-file verification meets a real
certificate (see `throwaway_certificates`).
"""
from __future__ import annotations

import select
import socket
import ssl
import subprocess
import threading
from pathlib import Path

PASS, REFUSE, HANG, HTTP500, LOSE = "pass", "refuse", "hang", "http500", "lose"
TRICKLE, TRICKLE_VOTES = "trickle", "trickle_votes"
_TRICKLE_LENGTH = 100_000   # body bytes promised: at one a second, more than a day
_500 = (b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/plain\r\n"
        b"Content-Length: 5\r\nConnection: close\r\n\r\nboom\n")


class FaultProxy:
    def __init__(self, target_port: int, target_host: str = "127.0.0.1", tls: ssl.SSLContext | None = None):
        self.target = (target_host, target_port)
        self.tls = tls
        self.mode = PASS
        self._lock = threading.Lock()
        self._conns: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._listener: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self.port = self._listen(0)
        self.connections = 0   # accepted so far, to check the agent really tried
        self.trickle_every = 0.5
        self.trickled = 0      # body bytes trickled so far
        self.cut = 0           # trickled answers the client hung up on before their end
        self.relayed: list[bytes] = []   # request lines relayed to the center in TRICKLE_VOTES

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def _listen(self, port: int) -> int:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", port))
        s.listen(64)
        self._listener = s
        t = threading.Thread(target=self._accept, args=(s,), daemon=True)
        t.start()
        self._threads.append(t)
        return s.getsockname()[1]

    def set_mode(self, mode: str) -> None:
        with self._lock:
            old, self.mode = self.mode, mode
            conns, self._conns = self._conns, set()
        for c in conns:
            _close(c)
        if mode == REFUSE and old != REFUSE:
            _close(self._listener)
            self._listener = None
        elif mode != REFUSE and old == REFUSE:
            self._listen(self.port)

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return       # listener closed (REFUSE or stop)
            with self._lock:
                self.connections += 1
                mode = self.mode
                self._conns.add(conn)
            threading.Thread(target=self._serve, args=(conn, mode), daemon=True).start()

    def _serve(self, conn: socket.socket, mode: str) -> None:
        try:
            if self.tls is not None:
                plain = conn
                conn = self.tls.wrap_socket(conn, server_side=True)   # the handshake; fails if the client refuses
                with self._lock:
                    self._conns.discard(plain)
                    self._conns.add(conn)
            if mode in (PASS, LOSE):
                self._pipe(conn, lose_answer=mode == LOSE)
            elif mode == HTTP500:
                _read_request(conn)
                conn.sendall(_500)
            elif mode in (TRICKLE, TRICKLE_VOTES):
                self._trickle_or_relay(conn, votes_only=mode == TRICKLE_VOTES)
            elif mode == HANG:
                while not self._stopped.is_set() and conn.recv(65536):
                    pass
        except OSError:
            pass
        finally:
            with self._lock:
                self._conns.discard(conn)
            _close(conn)

    def _pipe(self, conn: socket.socket, lose_answer: bool = False) -> None:
        try:
            up = socket.create_connection(self.target, timeout=5)
        except OSError:
            return        # center down: the agent sees the connection closed
        up.settimeout(None)
        with self._lock:
            self._conns.add(up)
        try:
            while not self._stopped.is_set():
                ready, _, _ = select.select([conn, up], [], [], 0.5)
                for s in ready:
                    data = s.recv(65536)
                    while isinstance(s, ssl.SSLSocket) and s.pending():   # TLS may hold more than select saw
                        data += s.recv(s.pending())
                    if not data:
                        return
                    if s is up and lose_answer:
                        return       # the center answered: the agent never hears it
                    (up if s is conn else conn).sendall(data)
        finally:
            with self._lock:
                self._conns.discard(up)
            _close(up)

    def _trickle_or_relay(self, conn: socket.socket, votes_only: bool) -> None:
        for _ in range(10_000):     # requests on one kept-alive connection
            request = _read_message(conn, idle_timeout=30)
            if request is None:
                return
            if votes_only and not request.startswith(b"POST /api/v1/votes"):
                with socket.create_connection(self.target, timeout=10) as up:
                    up.sendall(request)
                    answer = _read_message(up, idle_timeout=10)
                with self._lock:
                    self.relayed.append(request.split(b"\r\n", 1)[0])
                if answer is None:
                    return
                conn.sendall(answer)
                continue
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Content-Length: %d\r\n\r\n" % _TRICKLE_LENGTH)
            for _ in range(_TRICKLE_LENGTH):
                ready, _, _ = select.select([conn], [], [], self.trickle_every)
                if self._stopped.is_set():
                    return
                if ready and not conn.recv(65536):
                    with self._lock:
                        self.cut += 1      # the client gave up on the answer
                    return
                conn.sendall(b" ")
                with self._lock:
                    self.trickled += 1
            return

    def close(self) -> None:
        self._stopped.set()
        _close(self._listener)
        with self._lock:
            conns, self._conns = self._conns, set()
        for c in conns:
            _close(c)
        for t in self._threads:
            t.join(2)


def _read_request(conn: socket.socket) -> None:
    """Read one HTTP request (headers and Content-Length body), bounded."""
    _read_message(conn)


def _read_message(conn: socket.socket, idle_timeout: float = 5) -> bytes | None:
    """One HTTP message (request or answer: headers and Content-Length body), bounded;
    None if the peer closed first."""
    buf = b""
    conn.settimeout(idle_timeout)
    while b"\r\n\r\n" not in buf and len(buf) < 1 << 20:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        buf += chunk
    head, _, body = buf.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":", 1)[1])
    while len(body) < length:
        chunk = conn.recv(65536)
        if not chunk:
            return None
        body += chunk
    return head + b"\r\n\r\n" + body


def _close(s: socket.socket | None) -> None:
    if s is None:
        return
    try:
        s.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    try:
        s.close()
    except OSError:
        pass


def throwaway_certificates(folder: Path) -> tuple[Path, Path, Path]:
    """(ca.pem, server.pem, server.key): a throwaway CA and a certificate for 127.0.0.1 (openssl CLI)."""
    folder.mkdir(parents=True, exist_ok=True)
    ca_key, ca, key, csr, cert = (folder / n for n in ("ca.key", "ca.pem", "server.key", "server.csr", "server.pem"))
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True, timeout=30)  # noqa: E731
    run("req", "-x509", *ec, "-keyout", str(ca_key), "-out", str(ca), "-days", "2", "-subj", "/CN=hall test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", str(key), "-out", str(csr), "-subj", "/CN=127.0.0.1")
    ext = folder / "server.ext"
    ext.write_text("subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
                   "keyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial",
        "-out", str(cert), "-days", "2", "-extfile", str(ext))
    return ca, cert, key


def server_context(cert: Path, key: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    return ctx
