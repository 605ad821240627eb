"""`hall-agent status` shows what start-up recovery set aside (issue 11): the real
hall-agent process and the real center.

A pending file damaged on the tablet is moved to the outbox's damaged/ folder
at start-up; its record never reaches the center. Before, status said
"pending 0" and exited 0, and only the center saw the gap in seq.
"""
from __future__ import annotations

import subprocess
import sys

import pytest

from outbox.store import Outbox
from agent.status import read_status
from tests.support.agent_proc import REPO, AgentProcess, agent_log, outbox_folder, write_tablet_config
from tests.support.outbox_records import vote
from tests.support.waiting import wait_for

DEVICE = "tab-03"
pytestmark = pytest.mark.slow


def status(cfg) -> dict:
    return read_status(cfg.parent / "agent-status.json") or {}


def hall_agent_status(cfg) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", "status", "--config", str(cfg)],
                          capture_output=True, text=True, cwd=REPO, timeout=30)


def test_a_damaged_pending_file_is_shown_and_makes_status_exit_1_until_it_is_removed(running_center, tmp_path):
    c = running_center
    cfg = write_tablet_config(tmp_path / "tablet", c.url, c.token, agent={"heartbeat_interval": 1.0})
    folder = outbox_folder(cfg)
    with Outbox(folder, DEVICE) as box:
        put = [box.put(vote(i)) for i in range(3)]
    victim = folder / "pending" / f"{put[1]['id']}.json"
    victim.write_bytes(victim.read_bytes()[:40])           # torn by a power cut
    with AgentProcess(cfg) as agent:
        wait_for(lambda: agent.check() and status(cfg).get("pending") == 0 and len(c.records()) == 2, 30,
                 what="the two good records to be sent:\n" + agent_log(cfg))
        assert [r["seq"] for r in c.records()] == [1, 3]      # the center sees the gap
        shown = hall_agent_status(cfg)
        assert shown.returncode == 1, shown.stdout
        lines = shown.stdout.splitlines()
        assert lines[0].startswith("WARNING: 1 damaged file(s) set aside in the outbox folder")
        assert "pending        0" in lines and "damaged        1" in lines
        listed = [x for x in lines if x.startswith("  damaged ")]
        assert len(listed) == 1 and f"damaged/{victim.name} (set aside 20" in listed[0]
        # hall IT inspects it and moves it out of the outbox folder: the warning goes
        (folder / "damaged" / victim.name).rename(tmp_path / victim.name)
        wait_for(lambda: status(cfg).get("damaged") == 0, 30, what="the agent to see it gone")
        shown = hall_agent_status(cfg)
        assert shown.returncode == 0 and "WARNING" not in shown.stdout, shown.stdout
