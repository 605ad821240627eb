"""hall-agent command line (agent/cli.py)."""
import json
import os
import subprocess
import sys
from datetime import datetime

import pytest

from agent.cli import main
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


def test_status_prints_the_state_and_exits_0_when_fresh(tmp_path, capsys):
    path = write_tablet_config(tmp_path, "https://c.example", "tok")
    (tmp_path / "agent-status.json").write_text(json.dumps({
        "state": "idle", "pending": 3, "quarantined": 0, "oldest_pending": None,
        "clock": datetime.now().astimezone().isoformat()}))
    assert main(["status", "--config", str(path)]) == 0
    assert "pending        3" in capsys.readouterr().out


def test_status_without_a_running_agent_exits_1(tmp_path, capsys):
    path = write_tablet_config(tmp_path, "https://c.example", "tok")
    assert main(["status", "--config", str(path)]) == 1
    assert "has not run yet" in capsys.readouterr().out


def test_a_second_agent_on_the_same_tablet_exits_4(tmp_path):
    path = write_tablet_config(tmp_path, "http://127.0.0.1:9", "tok")
    with AgentProcess(path) as first:
        wait_for(lambda: first.check() and (tmp_path / "agent-status.json").exists(), 30, what="the first agent")
        second = subprocess.run([sys.executable, "-m", "agent.cli", "--config", str(path)],
                                capture_output=True, text=True, cwd=REPO, timeout=30)
        assert second.returncode == 4 and "already running" in second.stderr
        assert first.alive()


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
