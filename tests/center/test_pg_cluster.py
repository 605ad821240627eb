"""The center's PostgreSQL tests bring their own server: a throwaway cluster
(tests/support/postgres.py) unless HALL_TEST_PG names one. The machine's
PostgreSQL on 5432 is never needed."""
from __future__ import annotations

import os
import socket
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from tests.support.postgres import PostgresMissing, pg_database, server_bindir, throwaway_cluster


def _exists(admin_url: str, database: str) -> bool:
    with psycopg.connect(admin_url, autocommit=True, connect_timeout=5) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchone() is not None


def test_the_center_tests_use_the_server_hall_test_pg_names_else_their_own_cluster(pg_admin_url, pg_url):
    url = make_url(pg_url)
    named = os.environ.get("HALL_TEST_PG")
    if named:
        assert pg_admin_url == named
    else:
        assert (url.host, url.username) == ("127.0.0.1", "postgres")
        assert url.port != 5432, "the tests fell back to the machine's PostgreSQL"
    with psycopg.connect(pg_url.replace("+psycopg", ""), connect_timeout=5) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == url.database
        assert int(conn.execute("SHOW port").fetchone()[0]) == make_url(pg_admin_url).port


def test_a_database_made_for_a_test_is_dropped_afterwards(pg_admin_url):
    with pg_database(pg_admin_url) as url:
        name = make_url(url).database
        assert name.startswith("hall_test_")
        assert _exists(pg_admin_url, name)
    assert not _exists(pg_admin_url, name)


def test_a_throwaway_cluster_runs_on_loopback_without_durability_and_leaves_nothing_behind():
    with throwaway_cluster() as cluster:
        assert cluster.port != 5432 and cluster.folder.is_dir()
        with psycopg.connect(cluster.admin_url, connect_timeout=5) as conn:
            settings = {name: conn.execute(f"SHOW {name}").fetchone()[0] for name in
                        ("listen_addresses", "fsync", "synchronous_commit", "full_page_writes",
                         "unix_socket_directories", "server_encoding")}
            data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
        assert settings == {"listen_addresses": "127.0.0.1", "fsync": "off", "synchronous_commit": "off",
                            "full_page_writes": "off", "unix_socket_directories": str(cluster.folder),
                            "server_encoding": "UTF8"}
        assert data_dir.parent == cluster.folder
        if os.geteuid() == 0:        # initdb refuses root: the cluster runs as the package's user
            assert data_dir.owner() == "postgres"
    assert not cluster.folder.exists()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", cluster.port), timeout=2).close()


def test_missing_server_binaries_fail_naming_the_package(tmp_path):
    (tmp_path / "15" / "bin").mkdir(parents=True)           # a client-only install: no initdb
    with pytest.raises(PostgresMissing, match=r"Debian's postgresql package.*sysdeps\.sh"):
        server_bindir(tmp_path)


def test_the_newest_installed_version_is_used(tmp_path):
    for version in ("9", "15", "13"):
        bindir = tmp_path / version / "bin"
        bindir.mkdir(parents=True)
        (bindir / "initdb").touch()
        (bindir / "pg_ctl").touch()
    assert server_bindir(tmp_path) == tmp_path / "15" / "bin"
