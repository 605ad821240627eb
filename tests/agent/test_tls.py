"""HTTPS to the center with the configured CA file (agent/sender.py): the real
center behind a TLS-terminating loopback proxy with a throwaway CA."""
from __future__ import annotations

import pytest

from agent.answer import BACKOFF, classify
from agent.config import CenterConfig
from agent.sender import Sender
from tests.support.outbox_records import vote
from tests.support.tcp_proxy import FaultProxy, server_context, throwaway_certificates


@pytest.fixture
def https_center(tmp_path, running_center):
    ca, cert, key = throwaway_certificates(tmp_path / "pki")
    proxy = FaultProxy(running_center.port, tls=server_context(cert, key))
    yield running_center, proxy, ca
    proxy.close()


def sender(tmp_path, url, token, ca_file=None):
    (tmp_path / "token").write_text(token)
    return Sender(CenterConfig(url=url, token_file=tmp_path / "token", ca_file=ca_file,
                               connect_timeout=2, read_timeout=5), "tab-03")


def test_records_go_over_https_verified_with_the_ca_file(tmp_path, https_center):
    center, proxy, ca = https_center
    assert proxy.url.startswith("https://")
    rec = dict(vote(1), seq=1)
    s = sender(tmp_path, proxy.url, center.token, ca_file=ca)
    try:
        out = classify(s.send_votes([rec]), [rec["id"]])
    finally:
        s.close()
    assert out.acknowledge == (rec["id"],)
    assert [r["id"] for r in center.records()] == [rec["id"]]


def test_a_certificate_the_tablet_does_not_trust_is_a_tls_error_and_nothing_is_acknowledged(tmp_path, https_center):
    center, proxy, _ = https_center
    rec = dict(vote(1), seq=1)
    s = sender(tmp_path, proxy.url, center.token)        # system CA store: the throwaway CA is unknown
    try:
        reply = s.send_votes([rec])
    finally:
        s.close()
    assert reply.error == "tls" and "certificate" in reply.detail.lower()
    out = classify(reply, [rec["id"]])
    assert out.action == BACKOFF and out.acknowledge == ()
    assert center.records() == []
