"""A center that answers, but one byte at a time (issue 11): the real hall-agent
process behind a loopback proxy that trickles the center's answers.

With a per-read timeout only, such a center held the agent for as long as it
liked: no heartbeat, no status write, and SIGTERM waited for the socket.
"""
from __future__ import annotations

import json
import signal

import pytest

from outbox.store import Outbox
from agent.status import read_status
from tests.support.agent_proc import AgentProcess, agent_log, outbox_folder, write_tablet_config
from tests.support.outbox_records import vote
from tests.support.tcp_proxy import PASS, TRICKLE, TRICKLE_VOTES, FaultProxy
from tests.support.waiting import wait_for

DEVICE = "tab-03"
pytestmark = pytest.mark.slow


@pytest.fixture
def trickling(running_center):
    proxy = FaultProxy(running_center.port)
    proxy.trickle_every = 0.3      # every read returns well within read_timeout
    yield running_center, proxy
    proxy.close()


def status(cfg) -> dict:
    return read_status(cfg.parent / "agent-status.json") or {}


def log_lines(cfg) -> list[dict]:
    return [json.loads(line) for line in (cfg.parent / "agent.log").read_text().splitlines()]


def test_a_trickling_center_is_cut_at_the_deadline_and_heartbeats_still_go_out(trickling, tmp_path):
    center, proxy = trickling
    proxy.set_mode(TRICKLE_VOTES)
    cfg = write_tablet_config(tmp_path / "tablet", proxy.url, center.token,
                              center={"read_timeout": 3.0, "total_timeout": 1.0},
                              agent={"heartbeat_interval": 1.0, "backoff_cap": 0.5})
    box = Outbox(outbox_folder(cfg), DEVICE)
    try:
        put = [box.put(vote(i)) for i in range(6)]
        with AgentProcess(cfg) as agent:
            wait_for(lambda: agent.check() and proxy.cut >= 3
                     and "deadline" in (status(cfg).get("last_error") or ""),
                     30, what="batches cut at the deadline:\n" + agent_log(cfg))
            # between the cut batches the loop still beats: the center hears from the tablet
            wait_for(lambda: sum(b"/heartbeat" in r for r in proxy.relayed) >= 3, 30,
                     what="heartbeats while every batch is cut:\n" + agent_log(cfg))
            beat = center.scalar(f"SELECT heartbeat FROM devices WHERE device_id = '{DEVICE}'")
            beat = json.loads(beat) if isinstance(beat, str) else beat
            assert beat["pending"] == 6 and "deadline" in beat["last_error"]
            assert box.counts()["pending"] == 6 and center.records() == []
            st = status(cfg)
            assert st["state"] == "backoff" and st["pid"] == agent.proc.pid
            proxy.set_mode(PASS)
            wait_for(lambda: box.counts()["pending"] == 0, 30, what="the outbox to drain:\n" + agent_log(cfg))
        assert sorted(r["id"] for r in center.records()) == sorted(r["id"] for r in put)
        cut = [x for x in log_lines(cfg) if "deadline" in str(x.get("problem"))]
        # a batch that misses the deadline is halved, down to single records
        assert cut and [x["records"] for x in cut][:3] == [6, 3, 1], agent_log(cfg)
    finally:
        box.close()


def test_sigterm_ends_the_agent_at_once_in_the_middle_of_a_trickled_answer(trickling, tmp_path):
    center, proxy = trickling
    proxy.set_mode(TRICKLE)
    cfg = write_tablet_config(tmp_path / "tablet", proxy.url, center.token,
                              center={"read_timeout": 3.0, "total_timeout": 60.0})
    box = Outbox(outbox_folder(cfg), DEVICE)
    try:
        for i in range(3):
            box.put(vote(i))
        agent = AgentProcess(cfg).start()
        try:
            wait_for(lambda: agent.check() and proxy.trickled >= 3, 30, what="an answer being trickled")
            agent.proc.send_signal(signal.SIGTERM)
            # the answer would take 100,000 x 0.3 s and the deadline is 60 s away
            assert agent.proc.wait(15) == 0
        finally:
            agent.stop()
        wait_for(lambda: proxy.cut >= 1, 10, what="the proxy to see the agent hang up")
        out = (cfg.parent / "agent.stderr").read_text()
        assert "Traceback" not in out and out.strip() == ""
        lines = log_lines(cfg)
        assert lines[-1]["msg"] == "agent stopped"
        assert not [x for x in lines if x["level"] in ("WARNING", "ERROR", "CRITICAL")], lines
        assert box.counts()["pending"] == 3 and status(cfg)["pending"] == 3
    finally:
        box.close()
