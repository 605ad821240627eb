"""HTTP to the center: every failure becomes a named Reply (agent/sender.py)."""
import json
import os
import threading

import pytest

from agent.config import CenterConfig
from agent.sender import Sender, TokenFile
from tests.support.tcp_proxy import HANG, HTTP500, REFUSE, TRICKLE, FaultProxy
from tests.support.waiting import wait_for


@pytest.fixture
def proxy():
    p = FaultProxy(9)   # nothing behind it: only the fault modes are used
    yield p
    p.close()


def sender(tmp_path, url, token="tok", **timeouts):
    (tmp_path / "t").write_text(token + "\n")
    t = dict(connect_timeout=1, read_timeout=0.3)
    t.update(timeouts)
    return Sender(CenterConfig(url=url, token_file=tmp_path / "t", **t), "tab-03")


@pytest.mark.parametrize("mode,kind,status", [(HANG, "timeout", None), (REFUSE, "refused", None),
                                              (HTTP500, None, 500)])
def test_faults_are_named(tmp_path, proxy, mode, kind, status):
    proxy.set_mode(mode)
    s = sender(tmp_path, proxy.url)
    try:
        r = s.send_votes([{"id": "x"}])
    finally:
        s.close()
    assert (r.status, r.error) == (status, kind)


def test_missing_token_file_is_reported_not_raised(tmp_path):
    s = sender(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "t").unlink()
    assert s.send_votes([]).error == "token"
    s.close()


def test_token_file_is_reread_when_it_changes(tmp_path):
    s = sender(tmp_path, "http://127.0.0.1:9", token="old")
    assert s.token.read() == "old"
    (tmp_path / "t").write_text("new-token-longer\n")
    assert s.token.read() == "new-token-longer"
    (tmp_path / "t").write_text("two words\n")
    with pytest.raises(ValueError, match="exactly one token"):
        s.token.read()
    s.close()


def test_votes_carry_device_and_bearer_token(tmp_path):
    """A tiny loopback listener records what the sender puts on the wire."""
    import socket
    import threading
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    got = {}

    def serve():
        conn, _ = srv.accept()
        data = b""
        while b"\r\n\r\n" not in data:
            data += conn.recv(65536)
        head, _, body = data.partition(b"\r\n\r\n")
        n = int([h for h in head.split(b"\r\n") if h.lower().startswith(b"content-length")][0].split(b":")[1])
        while len(body) < n:
            body += conn.recv(65536)
        got["head"], got["body"] = head.decode(), json.loads(body)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 14\r\nConnection: close\r\n\r\n{\"results\":[]}")
        conn.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    s = sender(tmp_path, f"http://127.0.0.1:{srv.getsockname()[1]}", token="abc123")
    try:
        r = s.send_votes([{"id": "r1"}])
    finally:
        s.close()
        t.join(5)
        srv.close()
    assert r.status == 200
    assert "POST /api/v1/votes" in got["head"] and "Authorization: Bearer abc123" in got["head"]
    assert got["body"] == {"device_id": "tab-03", "votes": [{"id": "r1"}]}


def test_dns_failure_is_named_dns():
    """The exception chain requests raises for an unknown host (built, not looked up)."""
    import socket

    import requests
    from urllib3.exceptions import MaxRetryError, NameResolutionError

    from agent.sender import _network_error
    inner = NameResolutionError("center.example", None, socket.gaierror(-2, "Name or service not known"))
    e = requests.exceptions.ConnectionError(MaxRetryError(None, "/api/v1/votes", reason=inner))
    assert _network_error(e).error == "dns"
    assert _network_error(requests.exceptions.SSLError("certificate verify failed")).error == "tls"


def test_a_trickling_center_is_cut_at_the_total_deadline(tmp_path, proxy):
    """Headers at once, then a byte every 0.2 s: each read returns well within the
    3 s read timeout, so only the total deadline can end the request."""
    proxy.trickle_every = 0.2
    proxy.set_mode(TRICKLE)
    s = sender(tmp_path, proxy.url, read_timeout=3, total_timeout=1)
    try:
        r = s.send_votes([{"id": "x"}])
        assert (r.status, r.error) == (None, "deadline") and "total_timeout (1 s)" in r.detail
        wait_for(lambda: proxy.cut == 1, what="the proxy to see the agent hang up")
        assert 0 < proxy.trickled < 100_000          # the answer was cut, not finished
        assert s.watchdog.tracked() == 0             # the cut connection left no descriptor behind
        proxy.set_mode(HTTP500)                      # the next request is not cut
        assert s.send_votes([{"id": "x"}]).status == 500
    finally:
        s.close()


def test_a_tls_handshake_that_never_ends_is_cut_at_the_total_deadline(tmp_path, proxy):
    """The server takes the ClientHello and says nothing: the socket is still inside
    the handshake (urllib3 does not have it yet) when the deadline cuts it."""
    proxy.set_mode(HANG)
    s = sender(tmp_path, f"https://127.0.0.1:{proxy.port}", connect_timeout=30, total_timeout=1)
    try:
        r = s.send_votes([{"id": "x"}])
    finally:
        s.close()
    assert r.error == "deadline"


def test_abort_cuts_the_request_in_flight_and_refuses_new_ones(tmp_path, proxy):
    proxy.set_mode(TRICKLE)
    s = sender(tmp_path, proxy.url, read_timeout=3, total_timeout=60)
    got = []
    t = threading.Thread(target=lambda: got.append(s.send_votes([{"id": "x"}])), daemon=True)
    try:
        t.start()
        wait_for(lambda: proxy.trickled >= 2, what="the answer to start trickling")
        s.abort()
        t.join(10)
        assert not t.is_alive() and got[0].error == "stopped"
        before = proxy.connections
        assert s.send_votes([{"id": "y"}]).error == "stopped"
        assert proxy.connections == before          # nothing more went out
    finally:
        s.close()


def test_a_token_file_that_is_a_fifo_or_a_device_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "fifo.token"
    os.mkfifo(fifo)
    got = []
    t = threading.Thread(target=lambda: got.append(_token_problem(fifo)), daemon=True)
    t.start()
    t.join(10)
    assert not t.is_alive(), "reading a FIFO token file blocked"
    assert got == [f"token file {fifo} is a named pipe (FIFO), not a regular file"]
    assert "a character device" in _token_problem("/dev/zero")      # would never end
    assert "a directory" in _token_problem(tmp_path)


def _token_problem(path) -> str:
    try:
        TokenFile(path).read()
    except ValueError as e:
        return str(e)
    return "no error"


def test_a_fifo_token_file_stops_sending_with_a_named_reason(tmp_path):
    """Swapped in while the agent runs: the send is refused at once, as an unusable token."""
    s = sender(tmp_path, "http://127.0.0.1:9")
    (tmp_path / "t").unlink()
    os.mkfifo(tmp_path / "t")
    try:
        r = s.send_votes([])
    finally:
        s.close()
    assert r.error == "token" and "named pipe (FIFO)" in r.detail and str(tmp_path / "t") in r.detail


def test_an_answer_longer_than_any_answer_to_a_batch_is_not_read(tmp_path):
    import socket
    from agent.sender import MAX_ANSWER_BYTES
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        # read the whole request first: unread request bytes at close() would
        # make the kernel answer with a reset instead of the answer
        got = b""
        while b"\r\n\r\n" not in got:
            got += conn.recv(65536)
        head, body = got.split(b"\r\n\r\n", 1)
        length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                          if line.lower().startswith(b"content-length")))
        while len(body) < length:
            body += conn.recv(65536)
        size = MAX_ANSWER_BYTES + 1
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
        try:
            conn.sendall(b" " * size)
        except OSError:
            pass          # the agent hung up once it had read too much
        conn.close()
    t = threading.Thread(target=serve, daemon=True)
    t.start()
    s = sender(tmp_path, f"http://127.0.0.1:{srv.getsockname()[1]}")
    try:
        r = s.send_votes([{"id": "r1"}])
    finally:
        s.close()
        t.join(10)
        srv.close()
    assert (r.status, r.error) == (None, "too_large") and str(MAX_ANSWER_BYTES) in r.detail, r.detail
