"""hall-agent command line (agent/cli.py)."""
import json
import os
import subprocess
import threading
import sys
from datetime import datetime

import pytest

from agent.cli import _single_instance, main
from agent.status import is_stale
from tests.support.agent_proc import REPO, AgentProcess, write_tablet_config
from tests.support.waiting import wait_for


def test_bad_config_exits_2_naming_the_key(tmp_path, capsys):
    path = write_tablet_config(tmp_path, "https://c.example", "tok", agent={"batch_size": 0})
    assert main(["--config", str(path)]) == 2
    assert "agent.batch_size" in capsys.readouterr().err


def test_check_validates_the_file_and_the_token_without_running(tmp_path, capsys):
    path = write_tablet_config(tmp_path, "https://c.example", "tok")
    assert main(["check", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "valid. device" in out and "https://c.example" in out
    assert not (tmp_path / "agent-status.json").exists()      # nothing ran
    (tmp_path / "device.token").write_text("two tokens\n")
    assert main(["check", "--config", str(path)]) == 2
    assert "token_file" in capsys.readouterr().err


def test_check_refuses_a_token_file_that_is_a_fifo_at_once(tmp_path):
    """It used to block forever in the read, waiting for a writer."""
    import os
    path = write_tablet_config(tmp_path, "https://c.example", "tok")
    token = tmp_path / "device.token"
    token.unlink()
    os.mkfifo(token)
    done = subprocess.run([sys.executable, "-m", "agent.cli", "check", "--config", str(path)],
                          capture_output=True, text=True, cwd=REPO, timeout=30)
    assert done.returncode == 2
    assert f"center.token_file: {token} is a named pipe (FIFO), not a regular file" in done.stderr


def test_status_prints_the_state_and_exits_0_when_fresh(tmp_path, capsys):
    path = write_tablet_config(tmp_path, "https://c.example", "tok")
    (tmp_path / "agent-status.json").write_text(json.dumps({
        "state": "idle", "pending": 3, "quarantined": 0, "oldest_pending": None,
        "clock": datetime.now().astimezone().isoformat()}))
    lock = _single_instance(tmp_path / "agent.lock")     # what a running agent holds
    try:
        assert main(["status", "--config", str(path)]) == 0
    finally:
        lock.close()
    out = capsys.readouterr().out
    assert "pending        3" in out and "not running" not in out


def test_status_without_a_running_agent_exits_3(tmp_path, capsys):
    path = write_tablet_config(tmp_path, "https://c.example", "tok")
    assert main(["status", "--config", str(path)]) == 3
    out = capsys.readouterr().out
    assert "not running" in out and "has not run yet" in out
    assert not (tmp_path / "agent.lock").exists()        # status creates nothing


def test_status_says_not_running_as_soon_as_the_agent_is_killed(tmp_path):
    """The status file still looks fresh (written a moment ago, state idle);
    the free instance lock is what tells the truth."""
    path = write_tablet_config(tmp_path, "http://127.0.0.1:9", "tok")

    def status():
        return subprocess.run([sys.executable, "-m", "agent.cli", "status", "--config", str(path)],
                              capture_output=True, text=True, cwd=REPO, timeout=30)

    with AgentProcess(path) as agent:
        wait_for(lambda: agent.check() and (tmp_path / "agent-status.json").exists(), 30, what="the agent")
        alive = status()
        assert "not running" not in alive.stdout, alive.stdout
        agent.kill()                                      # SIGKILL: no chance to write anything
    dead = status()
    assert dead.returncode == 3, dead.stdout + dead.stderr
    assert dead.stdout.startswith("hall-agent is not running"), dead.stdout
    assert "state          not running (last: " in dead.stdout
    assert not is_stale(json.loads((tmp_path / "agent-status.json").read_text()), datetime.now().astimezone())


def test_a_second_agent_on_the_same_tablet_exits_4(tmp_path):
    path = write_tablet_config(tmp_path, "http://127.0.0.1:9", "tok")
    with AgentProcess(path) as first:
        wait_for(lambda: first.check() and (tmp_path / "agent-status.json").exists(), 30, what="the first agent")
        second = subprocess.run([sys.executable, "-m", "agent.cli", "--config", str(path)],
                                capture_output=True, text=True, cwd=REPO, timeout=30)
        assert second.returncode == 4 and "already running" in second.stderr
        assert first.alive()


def test_the_agent_waits_out_a_status_probe_on_its_lock(tmp_path):
    """`hall-agent status` holds the lock for an instant; an agent starting
    then must not take it for a second agent and exit 4."""
    probe = _single_instance(tmp_path / "agent.lock")
    threading.Timer(0.3, probe.close).start()
    lock = _single_instance(tmp_path / "agent.lock")
    assert lock is not None
    lock.close()


# ------------------------------------------------------------ the hall's time zone

UTC_STATUS = {"state": "backoff", "pending": 2, "quarantined": 0,
              "oldest_pending": "2026-11-27T01:00:00+00:00", "last_success": "2026-11-27T06:00:00+00:00",
              "last_error": "2026-11-27T06:59:00+00:00 refused", "version": "0.1.0", "pid": 1,
              "clock": "2026-11-27T07:00:00+00:00"}


def run_status(config) -> subprocess.CompletedProcess:
    """`hall-agent status` as hall IT runs it, on a tablet whose OS zone is UTC."""
    return subprocess.run([sys.executable, "-m", "agent.cli", "status", "--config", str(config)],
                          capture_output=True, text=True, cwd=REPO, timeout=60, env={**os.environ, "TZ": "UTC"})


def test_status_prints_hall_time_even_on_a_utc_tablet(tmp_path):
    path = write_tablet_config(tmp_path, "https://c.example", "tok")
    (tmp_path / "agent-status.json").write_text(json.dumps(UTC_STATUS))    # as an agent in UTC wrote it
    out = run_status(path).stdout
    assert "oldest pending 2026-11-27T09:00:00+08:00" in out and "last success   2026-11-27T14:00:00+08:00" in out
    assert "last error     2026-11-27T14:59:00+08:00 refused" in out and "written 2026-11-27T15:00:00+08:00" in out
    assert "+00:00" not in out
    assert json.loads((tmp_path / "agent-status.json").read_text()) == UTC_STATUS     # stored times unchanged


def test_status_prints_the_zone_the_hall_is_configured_in(tmp_path):
    path = write_tablet_config(tmp_path, "https://c.example", "tok", office={"timezone": "Asia/Urumqi"})
    (tmp_path / "agent-status.json").write_text(json.dumps(UTC_STATUS))
    out = run_status(path).stdout
    assert "oldest pending 2026-11-27T07:00:00+06:00" in out and "written 2026-11-27T13:00:00+06:00" in out
    assert "+00:00" not in out and "+08:00" not in out


@pytest.mark.parametrize("zone,offset", [(None, "+08:00"), ("Asia/Urumqi", "+06:00")])
def test_the_agents_log_and_status_file_are_in_hall_time_on_a_utc_tablet(tmp_path, zone, offset):
    path = write_tablet_config(tmp_path, "http://127.0.0.1:9", "tok", office={"timezone": zone} if zone else None)
    with AgentProcess(path, env={"TZ": "UTC"}) as agent:
        wait_for(lambda: agent.check() and (tmp_path / "agent-status.json").exists()
                 and (tmp_path / "agent.log").exists() and "agent started" in (tmp_path / "agent.log").read_text(),
                 30, what="the agent's first log line and status")
        assert agent.stop() == 0
    lines = [json.loads(x) for x in (tmp_path / "agent.log").read_text().splitlines()]
    assert lines and all(x["ts"].endswith(offset) for x in lines)
    status = json.loads((tmp_path / "agent-status.json").read_text())
    assert status["clock"].endswith(offset)
