"""Running the real `hall-agent` as a process for fault tests and the benchmark.

    cfg = write_tablet_config(tmp_path, center_url, token)
    with AgentProcess(cfg) as agent:   # stopped (SIGTERM, then SIGKILL) at the end
        agent.kill()                   # kill -9
        agent.start()
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    return '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_tablet_config(folder: Path, center_url: str, token: str, *, device_id: str = "tab-03",
                        agent: dict[str, Any] | None = None, center: dict[str, Any] | None = None,
                        mqtt: dict[str, Any] | None = None, office: dict[str, Any] | None = None,
                        storage: Path | None = None, extra: str = "") -> Path:
    """A tablet TOML with the tables the agent reads; fast timings for tests.
    `storage` is [storage] folder (default `folder`); `extra` is appended as
    is (the kiosk's tables, for the end-to-end test)."""
    folder.mkdir(parents=True, exist_ok=True)
    token_file = folder / "device.token"
    token_file.write_text(token + "\n", encoding="utf-8")
    c = {"url": center_url, "token_file": str(token_file), "connect_timeout": 1.0, "read_timeout": 2.0}
    c.update(center or {})
    a = {"batch_size": 100, "backoff_base": 0.05, "backoff_cap": 0.5, "heartbeat_interval": 5.0,
         "alert_check_interval": 1.0, "log_file": str(folder / "agent.log")}
    a.update(agent or {})
    lines = ["[device]", f"id = {_toml_value(device_id)}", 'region_code = "430922"', 'hall_id = "taojiang"',
             'window_id = "03"', "", "[storage]", f"folder = {_toml_value(str(storage or folder))}", ""]
    if office:
        lines += ["[office]"] + [f"{k} = {_toml_value(v)}" for k, v in office.items()] + [""]
    lines += ["[center]"]
    lines += [f"{k} = {_toml_value(v)}" for k, v in c.items()]
    lines += ["", "[agent]"] + [f"{k} = {_toml_value(v)}" for k, v in a.items()]
    if mqtt:
        lines += ["", "[agent.mqtt]"] + [f"{k} = {_toml_value(v)}" for k, v in mqtt.items()]
    path = folder / "tablet.toml"
    path.write_text("\n".join(lines) + "\n\n" + extra, encoding="utf-8")
    return path


def outbox_folder(config: Path) -> Path:
    return config.parent / "outbox"


class AgentProcess:
    def __init__(self, config: Path, env: dict[str, str] | None = None):
        self.config = Path(config)
        self.env = None if env is None else {**os.environ, **env}
        self.proc: subprocess.Popen | None = None
        self.out = self.config.parent / "agent.stderr"

    def start(self) -> "AgentProcess":
        if self.proc is None or self.proc.poll() is not None:
            with self.out.open("ab") as err:
                self.proc = subprocess.Popen([sys.executable, "-m", "agent.cli", "--config", str(self.config)],
                                             stdout=err, stderr=subprocess.STDOUT, cwd=REPO, env=self.env)
        return self

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check(self) -> bool:
        """Raise, with the agent's log, if the process exited on its own."""
        if self.proc is not None and self.proc.poll() is not None:
            raise AssertionError(f"hall-agent exited with {self.proc.returncode}:\n{agent_log(self.config)}")
        return True

    def kill(self) -> None:
        if self.alive():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> int | None:
        if self.alive():
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode if self.proc else None

    def __enter__(self) -> "AgentProcess":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def agent_log(config: Path) -> str:
    p = config.parent / "agent.log"
    e = config.parent / "agent.stderr"
    return "".join(x.read_text(errors="replace")[-4000:] for x in (p, e) if x.exists())


