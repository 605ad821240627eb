"""hall-agent command line (agent/cli.py)."""
import json
from datetime import datetime

import subprocess
import sys

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
