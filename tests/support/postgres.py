"""A throwaway PostgreSQL cluster for the tests and the center benchmark
(Debian's postgresql package, /usr/lib/postgresql/<version>/bin).

    with throwaway_cluster() as pg:       # initdb + pg_ctl start
        pg.admin_url                      # postgresql://postgres@127.0.0.1:<port>/postgres
        with pg_database(pg.admin_url) as url:   # a fresh database, dropped afterwards
            ...

The session fixture `pg_admin_url` starts one cluster for the whole test run,
unless HALL_TEST_PG names a server (an admin URL such as
postgresql://postgres@127.0.0.1:5432/postgres); then that server is used.

The cluster lives in a temp folder: its own free loopback port, its Unix
socket in the folder, trust authentication (only loopback, only for the
run), and no fsync: nothing in it needs to survive a crash. initdb refuses
to run as root, and CI runs as root, so as root the cluster runs as the
`postgres` user that the package creates.
"""
from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

from .mosquitto import free_port

PG_LIB = Path("/usr/lib/postgresql")
PACKAGE = "postgresql"
RUN_AS = "postgres"          # the user Debian's package creates
HOST = "127.0.0.1"
START_ATTEMPTS = 3           # another process may take the free port before the server binds it

SETTINGS = {
    "listen_addresses": f"'{HOST}'",
    # throwaway data: durability costs time and buys nothing here
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


class PostgresMissing(RuntimeError):
    """Debian's PostgreSQL server binaries (or its `postgres` user) are not installed."""


def server_bindir(lib: Path = PG_LIB) -> Path:
    """The bin folder of the newest PostgreSQL version installed under `lib`."""
    versions = [d for d in lib.glob("*") if d.name.isdigit() and (d / "bin" / "initdb").is_file()
                and (d / "bin" / "pg_ctl").is_file()] if lib.is_dir() else []
    if not versions:
        raise PostgresMissing(
            f"no PostgreSQL server binaries (initdb, pg_ctl) under {lib}/<version>/bin: install "
            f"Debian's {PACKAGE} package (bash scripts/sysdeps.sh, or apt-get install {PACKAGE}), "
            "or set HALL_TEST_PG to an admin URL of a running server")
    return max(versions, key=lambda d: int(d.name)) / "bin"


def _run_as() -> pwd.struct_passwd | None:
    """Whom initdb and pg_ctl run as: None (ourselves) unless we are root."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(RUN_AS)
    except KeyError:
        raise PostgresMissing(f"running as root and there is no {RUN_AS!r} user to run PostgreSQL as: "
                              f"install Debian's {PACKAGE} package (it creates the user)") from None


@dataclass
class Cluster:
    """A running throwaway cluster."""
    folder: Path
    port: int
    start_s: float          # initdb + start, seconds

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@{HOST}:{self.port}/postgres"


class _Tools:
    """initdb and pg_ctl of one version, run as the right user in the cluster's folder."""

    def __init__(self, bindir: Path, folder: Path, user: pwd.struct_passwd | None):
        self.bindir, self.folder, self.user = bindir, folder, user

    def run(self, tool: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
        as_user = {} if self.user is None else {"user": self.user.pw_uid, "group": self.user.pw_gid,
                                                "extra_groups": []}
        return subprocess.run([str(self.bindir / tool), *args], capture_output=True, text=True,
                              timeout=timeout, cwd=self.folder, env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
                              **as_user)


@contextmanager
def throwaway_cluster(bindir: Path | None = None) -> Iterator[Cluster]:
    """initdb into a temp folder, start on a free loopback port; at exit stop
    (immediate: the data is thrown away) and remove the folder."""
    bindir = bindir or server_bindir()
    user = _run_as()
    t0 = time.monotonic()
    # tempfile's folder, not pytest's tmp_path: that one is private to root, and
    # the postgres user must reach its data directory
    folder = Path(tempfile.mkdtemp(prefix="hall-pg-"))
    data, log = folder / "data", folder / "server.log"
    if user is not None:
        os.chown(folder, user.pw_uid, user.pw_gid)
    tools = _Tools(bindir, folder, user)
    started = False
    try:
        init = tools.run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "--encoding=UTF8",
                         "--locale=C.UTF-8", "--no-sync")
        if init.returncode != 0:
            raise RuntimeError(f"initdb failed ({init.returncode}): {init.stderr or init.stdout}")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n# hall test cluster\n" + "".join(f"{k} = {v}\n" for k, v in SETTINGS.items())
                       + f"unix_socket_directories = '{folder}'\n")
        for _ in range(START_ATTEMPTS):
            port = free_port(HOST)
            start = tools.run("pg_ctl", "start", "-D", str(data), "-l", str(log), "-w", "-t", "60",
                              "-o", f"-p {port}")
            if start.returncode == 0:
                started = True
                break
            if "already in use" not in _tail(log):
                break
        if not started:
            raise RuntimeError(f"pg_ctl start failed: {start.stderr or start.stdout}{_tail(log)}")
        yield Cluster(folder, port, time.monotonic() - t0)
    finally:
        stop = tools.run("pg_ctl", "stop", "-D", str(data), "-m", "immediate", "-w", timeout=60) if started else None
        if stop is not None and stop.returncode != 0:
            # keep the folder: removing it under a running server would hide the server
            raise RuntimeError(f"pg_ctl stop failed, the cluster in {folder} may still run: "
                               f"{stop.stderr or stop.stdout}")
        shutil.rmtree(folder, ignore_errors=True)


def _tail(log: Path) -> str:
    try:
        return "\n" + log.read_text(errors="replace")[-2000:]
    except OSError:
        return ""


# ------------------------------------------------------------------ databases

@contextmanager
def pg_database(admin_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server of `admin_url`; yields
    its SQLAlchemy URL; drops it."""
    import psycopg
    name = f"hall_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://") + "/" + name
    try:
        yield url
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def admin_server(url: str | None = None) -> Iterator[str]:
    """The admin URL to use: `url`, else HALL_TEST_PG, else a throwaway cluster's."""
    url = url or os.environ.get("HALL_TEST_PG")
    if url:
        yield url
        return
    with throwaway_cluster() as cluster:
        yield cluster.admin_url


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """Admin URL of the PostgreSQL server for this run (see the module docstring)."""
    try:
        with admin_server() as url:
            yield url
    except PostgresMissing as e:
        pytest.fail(str(e), pytrace=False)
