"""hall-agent on a real full disk (a 2 MiB tmpfs): it logs `disk full: <path>`
and exits 3 (systemd starts it again), never with a traceback, and every
record it held is still pending afterwards."""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading

import pytest

from agent.config import AgentSettings, CenterConfig
from agent.run import Agent
from agent.sender import Sender
from hallcore.fsutil import disk_full_path
from outbox.store import Outbox, OutboxError
from tests.support.agent_proc import REPO, AgentProcess, write_tablet_config
from tests.support.outbox_records import vote
from tests.support.waiting import wait_for

DEVICE = "tab-03"
UNREACHABLE = "http://127.0.0.1:9"      # discard port: the records stay pending


def run_agent(config) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "agent.cli", "--config", str(config)],
                          capture_output=True, text=True, cwd=REPO, timeout=60)


def disk_full_lines(text: str, disk) -> list[str]:
    """`disk full: <path>` lines naming a file on the small disk."""
    return [x for x in text.splitlines() if f"disk full: {disk.path}/" in x]


def logged(log_file) -> list[dict]:
    return [json.loads(x) for x in log_file.read_text().splitlines()]


def test_starting_on_a_full_disk_logs_disk_full_and_exits_3(tmp_path, small_disk):
    log_file = tmp_path / "agent.log"          # on a disk with room, so the line can be read
    config = write_tablet_config(tmp_path / "etc", UNREACHABLE, "tok", storage=small_disk.path,
                                 agent={"log_file": str(log_file)})
    small_disk.fill()
    done = run_agent(config)
    assert done.returncode == 3, done.stderr
    [line] = disk_full_lines(done.stderr, small_disk)
    assert line.startswith("hall-agent: disk full: ")
    [entry] = [e for e in logged(log_file) if e["msg"].startswith("disk full: ")]
    assert entry["level"] == "CRITICAL" and f"hall-agent: {entry['msg']}" == line
    assert "Traceback" not in done.stderr + log_file.read_text()


def test_a_full_disk_that_also_holds_the_log_still_says_so_on_stderr(tmp_path, small_disk):
    config = write_tablet_config(tmp_path / "etc", UNREACHABLE, "tok", storage=small_disk.path,
                                 agent={"log_file": str(small_disk.path / "agent.log")})
    small_disk.fill()
    done = run_agent(config)
    assert done.returncode == 3 and disk_full_lines(done.stderr, small_disk), done.stderr
    assert "Traceback" not in done.stderr and "Logging error" not in done.stderr


def test_a_disk_that_fills_while_running_stops_the_agent_with_exit_3(tmp_path, small_disk):
    log_file = tmp_path / "agent.log"
    config = write_tablet_config(tmp_path / "etc", UNREACHABLE, "tok", storage=small_disk.path,
                                 agent={"log_file": str(log_file), "heartbeat_interval": 1.0})
    with Outbox(small_disk.path / "outbox", DEVICE) as box:
        ids = {box.put(vote(i))["id"] for i in range(3)}
    status = small_disk.path / "agent-status.json"
    with AgentProcess(config) as agent:
        wait_for(lambda: agent.check() and status.exists() and json.loads(status.read_text())["pending"] == 3,
                 30, what="the agent running with 3 records pending")
        small_disk.fill()
        wait_for(lambda: not agent.alive(), 30, what="the agent to stop on the full disk")
        assert agent.proc.returncode == 3
    stderr = agent.out.read_text()
    assert disk_full_lines(stderr, small_disk) and any(e["msg"].startswith("disk full: ") for e in logged(log_file))
    assert "Traceback" not in stderr + log_file.read_text()
    small_disk.free()
    with Outbox(small_disk.path / "outbox", DEVICE) as box:
        assert {r["id"] for r in box.pending()} == ids        # nothing it held is lost


def test_an_acknowledge_on_a_full_disk_ends_the_loop_naming_the_file(tmp_path, small_disk, running_center,
                                                                      caplog):
    c = running_center
    token = tmp_path / "device.token"
    token.write_text(c.token)
    box = Outbox(small_disk.path / "outbox", DEVICE)
    sender = Sender(CenterConfig(url=c.url, token_file=token, connect_timeout=1, read_timeout=5), DEVICE)
    try:
        ids = {box.put(vote(i))["id"] for i in range(3)}
        agent = Agent(box, sender, AgentSettings(status_file=tmp_path / "agent-status.json"))
        small_disk.fill()
        stop = threading.Event()
        guard = threading.Timer(30, stop.set)        # never hang the suite
        guard.start()
        try:
            with caplog.at_level(logging.INFO), pytest.raises(OutboxError) as e:
                agent.run(stop)
        finally:
            guard.cancel()
        path = disk_full_path(e.value)
        assert path and path.startswith(f"{small_disk.path}/outbox/") and path in str(e.value)
        assert all(r.exc_info is None for r in caplog.records)       # hall-agent logs the one line
        assert {r["id"] for r in c.records()} == ids and {r["id"] for r in box.pending()} == ids
        small_disk.free()
        assert agent.send_one_batch()                                  # the center answers duplicate
        assert box.counts() == {"pending": 0, "quarantined": 0, "archived": 3}
        assert {r["id"] for r in c.records()} == ids                   # stored once
    finally:
        sender.close()
        box.close()
