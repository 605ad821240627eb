"""The center and the agent for `make demo` (halldemo/demo.py starts the rest).

    backend = start_backend(Path("config/demo.toml"))   # center + agent running
    print(backend.dashboard, backend.user, backend.password)
    ...
    backend.stop()

Everything lives in the demo's storage folder (the run's var/demo/run-*): the
center's SQLite file and generated config, the device token, the agent's
log and status file. The center listens on the port of [center] url in the
demo config; the demo device is enrolled on first start (its token written to
[center] token_file) and a supervisor login is created for the dashboard.
"""
from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import requests
import tomli_w

from hallcore.config import Table, load_toml
from hallcore.packagedata import CONFIG, shipped
from hallcore.tablet import load_tablet_file

DEMO_USER = "demo"
DEMO_PASSWORD = "demo-hall-2026"


@dataclass
class DemoBackend:
    center_url: str
    user: str
    password: str
    folder: Path
    center_config: Path
    device_id: str
    procs: list[subprocess.Popen] = field(default_factory=list)

    @property
    def dashboard(self) -> str:
        return self.center_url + "/"

    def center_counts(self) -> dict[str, int]:
        """The demo tablet's records and the cases at the center, from its
        database (also after the center stopped)."""
        from sqlalchemy import func, select
        from center.config import load_config
        from center.db import cases, make_engine, records
        engine = make_engine(load_config(self.center_config).database)
        try:
            with engine.connect() as conn:
                n_records = conn.execute(select(func.count()).select_from(records)
                                         .where(records.c.device_id == self.device_id)).scalar_one()
                n_cases = conn.execute(select(func.count()).select_from(cases)
                                       .join(records, cases.c.record_id == records.c.id)
                                       .where(records.c.device_id == self.device_id)).scalar_one()
        finally:
            engine.dispose()
        return {"records": n_records, "cases": n_cases}

    def alive(self) -> bool:
        return all(p.poll() is None for p in self.procs)

    def stop(self) -> None:
        """Agent first (so it does not log the center going away), then the center."""
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
        for p in reversed(self.procs):
            try:
                p.wait(15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(5)


def _center_config(folder: Path, port: int, mqtt_port: int | None) -> Path:
    path = folder / "center.toml"
    alerts: dict[str, object] = {"tick_s": 5}
    if mqtt_port:
        alerts.update(mqtt_host="127.0.0.1", mqtt_port=mqtt_port)
    data = {
        "center": {"database": str(folder / "center.sqlite3"), "host": "127.0.0.1", "port": port,
                   "session_secret_file": str(folder / "center-session.key")},
        "alerts": alerts,
        "departments": {"01": "公安户籍", "02": "社保医保", "03": "不动产登记"},
    }
    path.write_text("# written by halldemo/backend.py for make demo\n" + tomli_w.dumps(data),
                    encoding="utf-8")
    return path


def _enroll(center_cfg: Path, device_id: str, hall_id: str, window_id: str, token_file: Path) -> None:
    """Enroll the demo tablet once; a later start reuses the token file (or rotates a lost one)."""
    from center.config import load_config
    from center.service import Center, CenterError
    c = Center(load_config(center_cfg))
    try:
        c.migrate()
        known = token_file.exists() and c.device_for_token(token_file.read_text().strip()) == device_id
        if not known:
            try:
                token = c.add_device(device_id, hall_id, window_id)
            except CenterError:
                token = c.rotate_token(device_id)
            token_file.parent.mkdir(parents=True, exist_ok=True)
            token_file.write_text(token + "\n", encoding="utf-8")
            token_file.chmod(0o600)
        try:
            c.add_user(DEMO_USER, "supervisor", DEMO_PASSWORD)
        except CenterError:
            pass   # created by an earlier demo run
    finally:
        c.engine.dispose()


def start_backend(tablet_config: Path, *, mqtt_port: int | None = None, timeout: float = 30.0) -> DemoBackend:
    """Start the center and the agent for the tablet in `tablet_config`; raises RuntimeError."""
    tablet_config = Path(tablet_config).resolve()
    root, tablet = load_tablet_file(tablet_config)
    center_t = Table(load_toml(tablet_config).get("center"), "center", str(tablet_config))
    url = center_t.str("url").rstrip("/")
    token_file = center_t.path("token_file", base=tablet.config_dir)
    port = urlsplit(url).port or 80
    folder = tablet.storage
    folder.mkdir(parents=True, exist_ok=True)
    center_cfg = _center_config(folder, port, mqtt_port)
    _enroll(center_cfg, tablet.device_id, tablet.hall_id, tablet.window_id, token_file)
    backend = DemoBackend(url, DEMO_USER, DEMO_PASSWORD, folder, center_cfg, tablet.device_id)
    log = (folder / "center.log").open("ab")
    backend.procs.append(subprocess.Popen(
        [sys.executable, "-m", "center.cli", "serve", "--config", str(center_cfg), "--log-level", "warning"],
        stdout=log, stderr=subprocess.STDOUT))
    log.close()
    end = time.monotonic() + timeout
    while True:
        try:
            if requests.get(url + "/api/v1/health", timeout=1).ok:
                break
        except requests.RequestException:
            pass
        if backend.procs[0].poll() is not None or time.monotonic() > end:
            backend.stop()
            raise RuntimeError(f"the demo center did not start; see {folder / 'center.log'}")
        time.sleep(0.2)
    err = (folder / "agent.stderr").open("ab")
    backend.procs.append(subprocess.Popen(
        [sys.executable, "-m", "agent.cli", "--config", str(tablet_config)], stdout=err, stderr=subprocess.STDOUT))
    err.close()
    return backend


def main(argv=None) -> int:
    """`python -m halldemo.backend [tablet.toml]`: just the center and agent, until Ctrl-C."""
    args = sys.argv[1:] if argv is None else argv
    cfg = Path(args[0]) if args else shipped(CONFIG, "demo.toml")
    b = start_backend(cfg)
    print(f"center {b.dashboard} (login {b.user} / {b.password}); agent running; Ctrl-C stops both")
    try:
        while b.alive():
            time.sleep(1)
    except KeyboardInterrupt:
        pass
    finally:
        b.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
