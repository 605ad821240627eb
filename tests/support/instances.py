"""Several real `hall-center serve` processes on one PostgreSQL database, as
behind a load balancer (docs/deploy-nginx.md): one config file, one session
key, one database, each process on its own free loopback port.

    def test_x(center_instances, pg_url):
        fleet = center_instances(2, webhook_url=hook.url, lease_s=4)
        a, b = fleet.centers              # RunningCenter each (tests/support/center.py)
        tokens = fleet.enroll(["tab-01", "tab-02"])
        fleet.scalar("SELECT count(*) FROM records")

The processes start together on a database nobody migrated yet, so each
start also races the others' migrations. All are stopped at the end.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest

from .center import RunningCenter, free_port, write_config


@dataclass
class Instances:
    config_path: Path
    database: str                    # the SQLAlchemy URL the centers use
    centers: list[RunningCenter]

    def enroll(self, device_ids: list[str], hall_id: str = "taojiang", window_id: str = "03") -> dict[str, str]:
        """Enroll tablets (one in-process Center, as `hall-center add-device` would); their tokens."""
        from center.config import load_config
        from center.service import Center
        c = Center(load_config(self.config_path))
        try:
            return {d: c.add_device(d, hall_id, window_id) for d in device_ids}
        finally:
            c.engine.dispose()

    def scalar(self, sql: str) -> Any:
        return self.centers[0].scalar(sql)

    def by_pid(self, pid: int) -> RunningCenter:
        (c,) = [c for c in self.centers if c.proc is not None and c.proc.pid == pid]
        return c

    def stop(self) -> None:
        for c in self.centers:
            c.stop()

    def logs(self) -> str:
        return "".join(c.log_path.read_text(errors="replace") for c in self.centers if c.log_path.exists())


def start_instances(folder: Path, database: str, n: int, **alerts: Any) -> Instances:
    """`n` serve processes on `database` with one config (`alerts`: [alerts] keys)."""
    from center.config import load_config
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path = write_config(folder, database, **alerts)
    url = load_config(cfg_path).database
    ports: list[int] = []
    while len(ports) < n:                       # bounded: free_port rarely repeats
        p = free_port()
        if p not in ports:
            ports.append(p)
    centers = [RunningCenter(cfg_path, url, port, "", "", folder / f"center-{i}.log")
               for i, port in enumerate(ports)]
    fleet = Instances(cfg_path, url, centers)
    try:
        for c in centers:
            c.spawn()
        for c in centers:
            c.wait_ready(60)
    except BaseException:
        fleet.stop()
        raise
    return fleet


@pytest.fixture
def center_instances(pg_url, tmp_path) -> Iterator:
    """A starter: center_instances(n, **alerts) -> Instances on this test's
    PostgreSQL database; every instance it started is stopped at the end."""
    started: list[Instances] = []

    def start(n: int = 2, **alerts: Any) -> Instances:
        fleet = start_instances(tmp_path / f"centers-{len(started)}", pg_url, n, **alerts)
        started.append(fleet)
        return fleet

    try:
        yield start
    finally:
        for fleet in started:
            fleet.stop()
