"""center/db.py's PostgreSQL pool: a connection used moments ago is taken
without a ping (a round trip on every request), and one the server has
closed meanwhile is still found out and replaced."""
import select as io_select
import time

from center import db
from center.db import make_engine


def backend_pid(conn) -> int:
    return conn.exec_driver_sql("SELECT pg_backend_pid()").scalar()


def test_a_connection_checked_in_moments_ago_is_not_pinged_but_an_idle_one_is(pg_url, monkeypatch):
    engine = make_engine(pg_url)
    pings = []
    real_ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or real_ping(c))
    try:
        for _ in range(3):
            with engine.connect() as conn:
                backend_pid(conn)
        assert pings == []
        monkeypatch.setattr(db, "RECENTLY_USED_S", 0.0)        # as if idle a while
        with engine.connect() as conn:
            backend_pid(conn)
        assert pings == [1]
    finally:
        engine.dispose()


def test_a_pooled_connection_the_server_ended_is_replaced_at_checkout(pg_url):
    import psycopg
    engine = make_engine(pg_url)
    try:
        with engine.connect() as conn:
            first = backend_pid(conn)
            sock = conn.connection.dbapi_connection.pgconn.socket
        with psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", (first,))
        deadline = time.monotonic() + 10        # the server's goodbye reaches the pooled socket
        while not io_select.select([sock], [], [], 0.1)[0] and time.monotonic() < deadline:
            pass
        with engine.connect() as conn:          # checked in moments ago, but its socket says it is gone
            assert backend_pid(conn) != first
    finally:
        engine.dispose()
