"""center/sqlutil.py insert_rows / insert_new, the write path of ingest, on
SQLite and PostgreSQL: the rows inserted, the conflicts skipped, a value too
long or too big refused (never cut), Python-side defaults filled in."""
from datetime import date, datetime

import pytest
from sqlalchemy import (JSON, event, BigInteger, Boolean, Column, Date, DateTime, ForeignKey, Integer, MetaData, String,
                        Table, bindparam, select, text, update)
from sqlalchemy.exc import DataError, OperationalError

from center.db import make_engine
from center.sqlutil import (add_counts, driver_execute, execute_built, insert_new, insert_new_with_children,
                            insert_rows, read_connection, together)

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
notes = Table(          # at most one per thing (as a bad review's case is its record's)
    "notes", meta,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("thing_id", String(8), ForeignKey("things.id"), unique=True, nullable=False),
    Column("says", String(20), nullable=False),
)
tallies = Table(
    "tallies", meta,
    Column("k", String(8), primary_key=True),
    Column("c", Integer, nullable=False),
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
    # the fields are read as text and bigint, not varchar(8) or integer: an explicit cast
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


def statements(engine) -> list[str]:
    seen: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda conn, cur, sql, *_: seen.append(sql))
    return seen


def test_together_sends_a_blocks_writes_as_one_statement_and_in_order(engine):
    seen = statements(engine)
    with engine.begin() as conn, together(conn):
        insert_rows(conn, things, [row(1)])
        add_counts(conn, tallies, [dict(k="a", c=1)], ("k",), ("c",))
        execute_built(conn, SET_N, {"wanted": "t1", "new_n": 10})     # things again: after the two
        (found,) = execute_built(conn, BY_ID, {"wanted": "t1"})        # a read sees what came before it
        assert found.n == 10
        add_counts(conn, tallies, [dict(k="a", c=2)], ("k",), ("c",))
        assert conn.execute(select(tallies.c.c)).scalar() == 3        # SQLAlchemy's own execute too
        insert_rows(conn, things, [row(2)])
    assert sorted(stored(engine)) == ["t1", "t2"] and stored(engine)["t1"].n == 10
    writes = [sql for sql in seen if sql.startswith(("INSERT", "UPDATE", "WITH"))]
    if engine.dialect.name == "postgresql":
        assert writes[0].startswith("WITH w1 AS (INSERT INTO things") and "INSERT INTO tallies" in writes[0]
        assert len(writes) == 4        # the two together; the update; the second count, the second row
    else:
        assert len(writes) == 5        # SQLite: each as it comes


def test_a_held_write_the_database_refuses_is_raised_where_the_block_sends_it(pg_engine):
    with pytest.raises(DataError), pg_engine.begin() as conn:
        with together(conn):
            insert_rows(conn, things, [row(1, id="much too long")])     # held: nothing raised yet
            add_counts(conn, tallies, [dict(k="a", c=1)], ("k",), ("c",))
    assert stored(pg_engine) == {}
    with pg_engine.connect() as conn:
        assert conn.execute(select(tallies)).all() == []


def test_insert_new_with_children_inserts_the_children_of_the_new_rows_only(engine):
    with engine.begin() as conn:
        insert_new(conn, things, [row(1)])
    with engine.begin() as conn:
        new, children = insert_new_with_children(
            conn, things, [row(1), row(2), row(2, n=99)], "id", notes,
            [dict(thing_id="t1", says="again"), dict(thing_id="t2", says="new")], "thing_id")
    assert new == ["t2"] and list(children) == ["t2"]
    with engine.connect() as conn:
        got = conn.execute(select(notes.c.id, notes.c.thing_id, notes.c.says)).all()
    assert [(r.id, r.thing_id, r.says) for r in got] == [(children["t2"], "t2", "new")]
    assert stored(engine)["t2"].n == 2


def test_a_json_none_is_stored_as_null_not_as_json_null(pg_engine):
    with pg_engine.begin() as conn:
        insert_rows(conn, things, [row(1, body=None), row(2)])
    with pg_engine.connect() as conn:
        nulls = dict(conn.execute(text("SELECT id, body IS NULL FROM things")).all())
    assert nulls == {"t1": True, "t2": False}
