"""Fixtures for tests that need the center: a PostgreSQL test database, an
in-process Center with a controllable clock, and the real server as a uvicorn
subprocess on a free loopback port (for the agent's fault tests).

    def test_x(running_center):
        c = running_center            # RunningCenter
        requests.post(c.url + "/api/v1/votes", headers=c.auth, json=...)
        c.records()                   # stored records (dicts), by seq
        c.stop(); c.start()           # same database, same port
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hallcore.hallclock import DEFAULT_TZ
from hallcore.record import new_record

from .mosquitto import free_port  # noqa: F401  (one free-port helper for all fixtures)
from .postgres import pg_database

REPO = Path(__file__).resolve().parents[2]


# ------------------------------------------------------------------ records

def make_vote(device_id: str, seq: int, *, bad: bool = False, unrated: bool = False,
              at: datetime | None = None, window_id: str = "03", staff_id: str = "1024",
              staff_name: str = "李明", matter: tuple[str, str] = ("M1", "居民身份证换领"),
              phone: str | None = "13812345678", **over: Any) -> dict[str, Any]:
    """A valid schema-1 record with its seq, as an agent would send it."""
    at = at or datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
    kw: dict[str, Any] = dict(
        device_id=device_id, region_code="430922", hall_id="taojiang", window_id=window_id,
        staff_id=staff_id, staff_name=staff_name, ticket=f"A{seq:03d}", case_no=f"CN{seq:06d}",
        matter_code=matter[0], matter_name=matter[1], matter_index=1, matter_count=1,
        scale_size=3, prompted_at=at)
    if unrated:
        kw.update(unrated_reason="timeout")
    elif bad:
        kw.update(rating="dissatisfied", voted_at=at, reasons=["拖拉推诿"], contact_phone=phone,
                  comment="等了很久", due_at=at + timedelta(days=4), calendar_verified=True)
    else:
        kw.update(rating="satisfied", voted_at=at)
    kw.update(over)
    return dict(new_record(**kw), seq=seq)


# ------------------------------------------------------------------ databases

@pytest.fixture
def pg_url(pg_admin_url):
    """A fresh PostgreSQL database for one test, dropped afterwards (on the
    run's throwaway cluster, or on the server HALL_TEST_PG names)."""
    import psycopg
    try:
        with pg_database(pg_admin_url) as url:
            yield url
    except psycopg.OperationalError as e:
        pytest.fail(f"PostgreSQL at {pg_admin_url} is not reachable ({e}); HALL_TEST_PG names a "
                    "server that is not running, or unset it to use a throwaway cluster — "
                    "these tests never skip", pytrace=False)


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request, tmp_path):
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'center.sqlite3'}"
    return request.getfixturevalue("pg_url")


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kw) -> None:
        self.now += timedelta(**kw)


def make_center(db: str, tmp_path: Path, *, clock=None, senders=None, **cfg_over):
    """An in-process, migrated Center on `db` with a test config."""
    from center.config import AlertConfig, CenterConfig
    from center.service import Center
    alerts = cfg_over.pop("alerts", AlertConfig())
    cfg = CenterConfig(database=db, session_secret_file=tmp_path / "session.key",
                       departments={"03": "不动产登记"}, alerts=alerts, **cfg_over)
    kw = {"clock": clock} if clock else {}
    c = Center(cfg, senders=senders, **kw)
    c.migrate()
    return c


@contextmanager
def api_client(center, device_id: str = "tab-03", hall_id: str = "taojiang", window_id: str = "03",
               region_code: str | None = None):
    """The real app over `center` (TestClient) with `device_id` enrolled and its token sent."""
    from fastapi.testclient import TestClient

    from center.api import create_app
    token = center.add_device(device_id, hall_id, window_id, region_code)
    with TestClient(create_app(center)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def post_votes(client, votes, device_id: str = "tab-03", **kw):
    return client.post("/api/v1/votes", json={"device_id": device_id, "votes": votes}, **kw)


API_NOW = datetime(2026, 11, 27, 15, 5, tzinfo=DEFAULT_TZ)    # five minutes after make_vote's default time


@pytest.fixture
def api_center(db_url, tmp_path):
    """A migrated in-process center, once on SQLite and once on PostgreSQL, its clock at API_NOW."""
    c = make_center(db_url, tmp_path, clock=Clock(API_NOW))
    yield c
    c.engine.dispose()


@pytest.fixture
def tablet_api(api_center):
    """The real app over `api_center`, as tablet tab-03 (taojiang, window 03) calls it."""
    with api_client(api_center) as client:
        yield client


# ------------------------------------------------------------------ the real server

@dataclass
class RunningCenter:
    config_path: Path
    database: str
    port: int
    device_id: str
    token: str
    log_path: Path
    proc: subprocess.Popen | None = None
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self, timeout: float = 30.0) -> None:
        if self.proc and self.proc.poll() is None:
            return
        self.spawn()
        self.wait_ready(timeout)

    def spawn(self) -> None:
        """Start the process without waiting for it (several may start together)."""
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "center.cli", "serve", "--config", str(self.config_path),
             "--port", str(self.port), "--log-level", "warning"],
            stdout=log, stderr=subprocess.STDOUT, cwd=REPO, env={**os.environ, **self.extra_env})
        log.close()

    def wait_ready(self, timeout: float = 30.0) -> None:
        """Until /api/v1/health answers; stops it and raises if it exits or never answers."""
        import requests
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"center exited with {self.proc.returncode}:\n"
                                   f"{self.log_path.read_text(errors='replace')[-3000:]}")
            try:
                if requests.get(self.url + "/api/v1/health", timeout=1).ok:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"center did not answer within {timeout}s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.proc = None

    def kill(self) -> None:
        """kill -9: no graceful shutdown."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.proc = None

    def records(self) -> list[dict[str, Any]]:
        """Every stored record as the tablet sent it, by device and seq."""
        from sqlalchemy import create_engine, select

        from center.db import records
        engine = create_engine(self.database)
        try:
            with engine.connect() as conn:
                return [r.body for r in conn.execute(
                    select(records.c.body).order_by(records.c.device_id, records.c.seq))]
        finally:
            engine.dispose()

    def scalar(self, sql: str) -> Any:
        """One value from the center's database, e.g. "SELECT count(*) FROM cases"."""
        from sqlalchemy import create_engine, text
        engine = create_engine(self.database)
        try:
            with engine.connect() as conn:
                return conn.execute(text(sql)).scalar()
        finally:
            engine.dispose()

    def _center(self):
        from center.config import load_config
        from center.service import Center
        return Center(load_config(self.config_path))

    def add_device(self, device_id: str, hall_id: str = "taojiang", window_id: str = "03") -> str:
        """Enroll another tablet; returns its token."""
        c = self._center()
        try:
            return c.add_device(device_id, hall_id, window_id)
        finally:
            c.engine.dispose()

    def add_user(self, name: str, role: str, password: str, window_id: str | None = None,
                 staff_id: str | None = None) -> None:
        """A dashboard user (handler of `window_id`, or supervisor; `staff_id`: its own)."""
        c = self._center()
        try:
            c.add_user(name, role, password, window_id, staff_id)
        finally:
            c.engine.dispose()


def write_config(folder: Path, database: str, *, center: str = "", extra: str = "", **alerts: Any) -> Path:
    """`center`: more [center] lines; `extra`: more tables (e.g. [bundle]), as TOML text."""
    lines = ["[center]", f'database = "{database}"',
             f'session_secret_file = "{folder / "session.key"}"', center, "", "[alerts]", "tick_s = 1"]
    lines += [f"{k} = {v!r}".replace("'", '"') for k, v in alerts.items()]
    lines += ["", "[departments]", '"03" = "不动产登记"', "", extra]
    path = folder / "center.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def start_center(folder: Path, device_id: str = "tab-03", database: str | None = None, *,
                 center: str = "", extra: str = "", **alerts: Any) -> RunningCenter:
    """Migrate a center in `folder` (SQLite there unless `database` is a URL),
    enroll `device_id`, start the server."""
    from center.config import load_config
    from center.service import Center
    folder.mkdir(parents=True, exist_ok=True)
    cfg_path = write_config(folder, database or str(folder / "center.sqlite3"), center=center, extra=extra,
                            **alerts)
    c = Center(load_config(cfg_path))
    c.migrate()
    token = c.add_device(device_id, "taojiang", "03")
    url = c.cfg.database
    c.engine.dispose()
    rc = RunningCenter(cfg_path, url, free_port(), device_id, token, folder / "center.log")
    rc.start()
    return rc


@pytest.fixture
def running_center(tmp_path):
    """The real center (uvicorn subprocess, SQLite in tmp_path) with one enrolled
    device; stopped at the end even if the test fails."""
    rc = start_center(tmp_path / "center")
    try:
        yield rc
    finally:
        rc.stop()
