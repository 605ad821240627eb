"""HTTP to the center: every failure becomes a named Reply (agent/sender.py)."""
import json

import pytest

from agent.config import CenterConfig
from agent.sender import Sender
from tests.support.tcp_proxy import HANG, HTTP500, REFUSE, FaultProxy


@pytest.fixture
def proxy():
    p = FaultProxy(9)   # nothing behind it: only the fault modes are used
    yield p
    p.close()


def sender(tmp_path, url, token="tok"):
    (tmp_path / "t").write_text(token + "\n")
    return Sender(CenterConfig(url=url, token_file=tmp_path / "t", connect_timeout=1, read_timeout=0.3), "tab-03")


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
