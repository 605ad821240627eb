"""center/sqlutil.py insert_rows / insert_new, the write path of ingest, on
SQLite and PostgreSQL: the rows inserted, the conflicts skipped, a value too
long or too big refused (never cut), Python-side defaults filled in."""
from datetime import date, datetime

import pytest
from sqlalchemy import (JSON, event, BigInteger, Boolean, Column, Date, DateTime, Integer, MetaData, String, Table, bindparam,
                        select, update)
from sqlalchemy.exc import DataError, OperationalError

from center.db import make_engine
from center.sqlutil import driver_execute, execute_built, insert_new, insert_rows, read_connection

meta = MetaData()
things = Table(
    "things", meta,
    Column("id", String(8), primary_key=True),
    Column("n", Integer),
    Column("big", BigInteger, nullable=False),
    Column("ok", Boolean, nullable=False, default=False),
    Column("day", Date),
    Column("at", DateTime),
    Column("body", JSON),
)


def _engine(url):
    e = make_engine(url)
    meta.create_all(e)
    return e


@pytest.fixture
def engine(db_url):
    e = _engine(db_url)
    yield e
    e.dispose()


@pytest.fixture
def pg_engine(pg_url):
    """driver_execute is the PostgreSQL path only (SQLite keeps SQLAlchemy's)."""
    e = _engine(pg_url)
    yield e
    e.dispose()


def row(i, **over):
    return dict(dict(id=f"t{i}", n=i, big=2 ** 40 + i, day=date(2026, 11, 27), at=datetime(2026, 11, 27, 7),
                     body={"i": i, "名": "李明", "none": None}), **over)


def stored(engine):
    with engine.connect() as conn:
        return {r.id: r for r in conn.execute(select(things))}


def test_insert_new_names_the_rows_it_inserted_and_skips_stored_keys_and_repeats(engine):
    with engine.begin() as conn:
        assert sorted(insert_new(conn, things, [row(1), row(2)])) == ["t1", "t2"]
    with engine.begin() as conn:
        new = insert_new(conn, things, [row(2, n=99), row(3), row(3, n=98), row(4, n=None)])
    assert sorted(new) == ["t3", "t4"]
    got = stored(engine)
    assert got["t2"].n == 2 and got["t3"].n == 3          # a stored key and a second copy are left out
    assert got["t4"].n is None and got["t1"].big == 2 ** 40 + 1
    assert got["t1"].body == {"i": 1, "名": "李明", "none": None}
    assert (got["t1"].day, got["t1"].at) == (date(2026, 11, 27), datetime(2026, 11, 27, 7))
    assert got["t1"].ok is False                            # the column's Python default


def test_encoded_json_text_is_stored_as_given_on_postgresql(engine):
    with engine.begin() as conn:
        insert_new(conn, things, [row(1), row(2)], encoded={"body": ['{"a": 1}', '{"b": [2]}']})
    bodies = {k: r.body for k, r in stored(engine).items()}
    if engine.dialect.name == "postgresql":
        assert bodies == {"t1": {"a": 1}, "t2": {"b": [2]}}
    else:                                                   # SQLite encodes the rows' own values
        assert bodies == {"t1": row(1)["body"], "t2": row(2)["body"]}


@pytest.mark.parametrize("bad", [dict(id="t" * 9), dict(n=2 ** 31), dict(big=2 ** 63)])
def test_on_postgresql_a_value_too_long_or_too_big_is_refused_never_cut(pg_url, bad):
    # the arrays are sent as text[] and bigint[], not varchar(8)[] or integer[]: an explicit cast
    # would cut a long text silently; the INSERT's own assignment refuses it (SQLite checks neither)
    engine = make_engine(pg_url)
    meta.create_all(engine)
    try:
        with pytest.raises(DataError):
            with engine.begin() as conn:
                insert_rows(conn, things, [row(1), row(2, **bad)], returning=("id",), skip_conflicts_on="id")
        assert stored(engine) == {}
    finally:
        engine.dispose()


def test_insert_rows_returns_the_asked_columns(engine):
    with engine.begin() as conn:
        got = insert_rows(conn, things, [row(1), row(2)], returning=("id", "big"))
    assert sorted(tuple(r) for r in got) == [("t1", 2 ** 40 + 1), ("t2", 2 ** 40 + 2)]
    with engine.begin() as conn:
        assert insert_rows(conn, things, [row(3)]) == []
    assert sorted(stored(engine)) == ["t1", "t2", "t3"]


def test_read_connection_reads_without_a_transaction(engine):
    with engine.begin() as conn:
        insert_new(conn, things, [row(1)])
    with read_connection(engine) as conn:
        assert conn.execute(select(things.c.n)).scalar() == 1
    with engine.begin() as conn:                            # the pooled connection writes in transactions again
        insert_new(conn, things, [row(2)])
        conn.rollback()
    assert sorted(stored(engine)) == ["t1"]


BY_ID = select(things.c.id, things.c.n, things.c.body).where(things.c.id == bindparam("wanted"))
SET_N = update(things).where(things.c.id == bindparam("wanted")).values(n=bindparam("new_n"))


def test_a_statement_built_once_runs_with_its_rows_named_and_is_compiled_once(engine):
    with engine.begin() as conn:
        insert_rows(conn, things, [row(1), row(2)])
        assert execute_built(conn, SET_N, {"wanted": "t2", "new_n": 20}) == []
        for _ in range(2):          # the second time from the compiled text
            (found,) = execute_built(conn, BY_ID, {"wanted": "t2"})
            assert (found.id, found.n, found.body["名"]) == ("t2", 20, "李明")
        assert execute_built(conn, BY_ID, {"wanted": "none"}) == []


def test_a_driver_error_is_raised_as_sqlalchemys_with_the_drivers_error_kept(pg_engine):
    engine = pg_engine
    with pytest.raises(DataError) as e, engine.begin() as conn:
        driver_execute(conn, "INSERT INTO things (id, big) VALUES (%s, %s)", ("much too long", 1))
    assert "too long" in str(e.value.orig) and not e.value.connection_invalidated
    with engine.connect() as conn:      # the pool's connection is still good
        assert driver_execute(conn, "SELECT 1", (), fetch=True) == [(1,)]


def test_a_connection_lost_under_driver_execute_is_sqlalchemys_operational_error_and_invalidated(pg_engine):
    # ingest fails the whole batch on it (the agent sends it again), never one record
    engine = pg_engine
    with engine.connect() as conn:
        pid = driver_execute(conn, "SELECT pg_backend_pid()", (), fetch=True)[0][0]
        with engine.connect() as other:
            other.exec_driver_sql(f"SELECT pg_terminate_backend({pid})")
            other.commit()
        with pytest.raises(OperationalError) as e:
            driver_execute(conn, "SELECT 1", (), fetch=True)
        assert e.value.connection_invalidated and conn.invalidated


def test_on_postgresql_what_orjson_cannot_write_is_refused_by_the_database(pg_url):
    e = make_engine(pg_url)
    meta.create_all(e)
    try:
        for bad in (dict(big=2 ** 70), dict(id="\ud800")):
            with pytest.raises(DataError), e.begin() as conn:
                insert_rows(conn, things, [row(1), row(2, **bad)])
        assert stored(e) == {}
    finally:
        e.dispose()


def test_the_engines_cursor_events_see_a_driver_statement(engine):
    seen = []
    event.listen(engine, "before_cursor_execute", lambda conn, cur, sql, *_: seen.append(("before", sql)))
    event.listen(engine, "after_cursor_execute", lambda conn, cur, sql, *_: seen.append(("after", sql)))
    with engine.begin() as conn:
        insert_rows(conn, things, [row(1)])
    assert [k for k, sql in seen if "INSERT INTO things" in sql] == ["before", "after"]
