"""The SQL idioms that differ between SQLite and PostgreSQL."""
from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Mapping, Sequence

import orjson
from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Integer, SmallInteger, String, Table, Text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError


def insert_for(conn: Connection, table: Table):
    """An INSERT that supports ON CONFLICT on this connection's database."""
    return dialect_insert(conn.dialect.name, table)


def dialect_insert(dialect: str, table: Table):
    """insert_for by the database's name ("postgresql", "sqlite"), for a statement built once."""
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def read_connection(engine: Engine) -> Connection:
    """A connection for reads that need no transaction (a token lookup): on
    PostgreSQL in autocommit, so no BEGIN and ROLLBACK round trips. (SQLite
    keeps its own BEGIN handling, center/db.py.)"""
    conn = engine.connect()
    if engine.dialect.name == "postgresql":
        conn = conn.execution_options(isolation_level="AUTOCOMMIT")
    return conn


def execute_built(conn: Connection, stmt, params: Mapping[str, Any]) -> list[Any]:
    """A SQLAlchemy statement built once (a module constant: its bind names
    are the keys of `params`), its rows as named tuples. PostgreSQL: compiled
    once, then run by driver_execute; SQLite: conn.execute."""
    if conn.dialect.name != "postgresql":
        result = conn.execute(stmt, params)
        return list(result.all()) if result.returns_rows else []
    sql = _compiled.get(id(stmt))
    if sql is None or sql[0] is not stmt:
        sql = _compiled[id(stmt)] = (stmt, str(stmt.compile(dialect=conn.dialect)))
    return driver_execute(conn, sql[1], params, fetch=stmt.is_select or bool(getattr(stmt, "_returning", ())),
                          named=True)


_compiled: dict[int, tuple[Any, str]] = {}      # id(statement) -> (statement, its PostgreSQL text)


def driver_execute(conn: Connection, sql: str, params: Sequence[Any] | Mapping[str, Any], *, fetch: bool = False,
                   named: bool = False) -> list[tuple]:
    """A statement of fixed text on the connection's own psycopg connection, in
    its transaction: conn.exec_driver_sql without SQLAlchemy's execution and
    result machinery (a fifth of ingest's CPU for its few hot statements).
    The driver's errors are raised as SQLAlchemy's (OperationalError …, with
    `connection_invalidated` when the connection is lost, which is then
    invalidated as SQLAlchemy would), so callers judge them alike. Returns
    the rows when `fetch` (named tuples when `named`)."""
    from psycopg.rows import namedtuple_row
    fairy = conn.connection
    dbapi = conn.dialect.loaded_dbapi
    cur = fairy.dbapi_connection.cursor(row_factory=namedtuple_row) if named else fairy.dbapi_connection.cursor()
    # the engine's cursor events still see the statement (bench/ingest.py --profile times them)
    before, after = conn.dispatch.before_cursor_execute, conn.dispatch.after_cursor_execute
    try:
        if before:
            before(conn, cur, sql, params, None, False)
        cur.execute(sql, params)
        if after:
            after(conn, cur, sql, params, None, False)
        return cur.fetchall() if fetch else []
    except dbapi.Error as e:
        lost = conn.dialect.is_disconnect(e, fairy.dbapi_connection, cur)
        if lost:
            conn.invalidate(e)
        raise DBAPIError.instance(sql, None, e, dbapi.Error, connection_invalidated=lost,   # no rows in the log
                                  dialect=conn.dialect) from e
    finally:
        cur.close()


def is_retryable(exc: Exception) -> bool:
    """A deadlock or serialization failure: the whole transaction may be retried."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text


# The type each column's values are read as (a field of json_to_recordset's
# rows): the base type, never a length or a narrower integer, so the
# INSERT's own assignment to the column refuses a value too long or too big
# (an explicit cast to varchar(n) would cut it silently).
_ARRAY_TYPES = ((BigInteger, "bigint"), (SmallInteger, "bigint"), (Integer, "bigint"), (Boolean, "boolean"),
                (DateTime, "timestamp"), (Date, "date"), (JSON, "text"), (String, "text"), (Text, "text"))


def _array_type(column) -> str:
    for sa_type, name in _ARRAY_TYPES:
        if isinstance(column.type, sa_type):
            return name
    raise TypeError(f"insert_rows: no array type for column {column.name} ({column.type!r})")


@lru_cache(maxsize=None)
def _unnest_insert(table: Table, columns: tuple[str, ...], returning: tuple[str, ...],
                   skip_conflicts_on: str | None, add_on: tuple[str, ...] = (),
                   adding: tuple[str, ...] = ()) -> str:
    """INSERT … SELECT … FROM ROWS FROM (json_to_recordset(the rows' other
    columns as one JSON text), unnest(one text array per JSON column))
    [ON CONFLICT (key) DO NOTHING | ON CONFLICT (add_on) DO UPDATE SET c =
    table.c + excluded.c] [RETURNING …]: one statement of fixed text for any
    number of rows, so psycopg prepares it once and nothing is parsed per
    row; the rows are encoded by orjson at once instead of value by value."""
    cols = [table.c[c] for c in columns]
    plain = [c for c in cols if not isinstance(c.type, JSON)]
    docs = [c for c in cols if isinstance(c.type, JSON)]
    fields = ", ".join(f"{c.name} {_array_type(c)}" for c in plain)
    sources = [f"json_to_recordset(%s::json) AS ({fields})"] if plain else []
    sources += ["unnest(%b::text[])"] * len(docs)
    names = ", ".join(c.name for c in plain + docs)
    picked = ", ".join([f"u.{c.name}" for c in plain] + [f"u.{c.name}::json" for c in docs])
    sql = (f"INSERT INTO {table.name} ({names}) SELECT {picked} FROM ROWS FROM ({', '.join(sources)}) "
           f"AS u({names})")
    if skip_conflicts_on:
        sql += f" ON CONFLICT ({skip_conflicts_on}) DO NOTHING"
    if add_on:
        sql += (f" ON CONFLICT ({', '.join(add_on)}) DO UPDATE SET "
                + ", ".join(f"{c} = {table.name}.{c} + excluded.{c}" for c in adding))
    if returning:
        sql += f" RETURNING {', '.join(returning)}"
    return sql


@lru_cache(maxsize=None)
def _split(table: Table, columns: tuple[str, ...]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(the plain columns, the JSON ones) of `columns`, in _unnest_insert's order."""
    return (tuple(c for c in columns if not isinstance(table.c[c].type, JSON)),
            tuple(c for c in columns if isinstance(table.c[c].type, JSON)))


def _params(table: Table, rows: Sequence[Mapping[str, Any]], columns: tuple[str, ...],
            defaults: Mapping[str, Any], encoded: Mapping[str, Sequence[str]]) -> list:
    """_unnest_insert's parameters: the plain columns of all rows as one JSON
    text (a naive datetime as ISO text, which PostgreSQL reads back exactly),
    then one list of JSON texts (or None) per JSON column."""
    plain, docs = _split(table, columns)
    given = [c for c in plain if c not in defaults]
    if defaults:
        objects = [dict({c: r[c] for c in given}, **defaults) for r in rows]
    elif len(given) == len(rows[0]):
        objects = rows
    else:
        objects = [{c: r[c] for c in given} for r in rows]
    params: list = [_json_rows(objects)] if plain else []
    for name in docs:
        if name in encoded:
            params.append(list(encoded[name]))
        else:
            params.append([None if r[name] is None else json.dumps(r[name], ensure_ascii=False) for r in rows])
    return params


def _json_rows(objects: Sequence[Mapping[str, Any]]) -> str:
    try:
        return orjson.dumps(objects).decode()
    except TypeError:       # an int beyond 64 bits, a lone surrogate: written so, PostgreSQL refuses it (DataError)
        return json.dumps(objects, default=str)


@lru_cache(maxsize=None)
def _scalar_defaults(table: Table, given: tuple[str, ...]) -> dict[str, Any]:
    """The Python-side scalar defaults of the columns a row leaves out (what
    SQLAlchemy's own INSERT would fill in)."""
    return {str(c.name): c.default.arg for c in table.columns      # str: orjson takes no subclass as a key
            if c.name not in given and c.default is not None and c.default.is_scalar}


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *,
                returning: tuple[str, ...] = (), skip_conflicts_on: str | None = None,
                encoded: Mapping[str, Sequence[str]] | None = None) -> list[Any]:
    """Insert `rows` (dicts with the same columns) in one statement; with
    `skip_conflicts_on` a row whose key is stored already (or comes earlier
    in `rows`) is left out. Returns the `returning` columns of the rows
    inserted, in no promised order.

    PostgreSQL: the rows as one JSON text, one text array per JSON column
    (see _unnest_insert); a JSON column's text is taken from `encoded[column]` when given (already encoded, one
    per row), else each value is encoded. SQLite: SQLAlchemy's multi-row
    INSERT (`encoded` unused)."""
    if not rows:
        return []
    if conn.dialect.name != "postgresql":
        stmt = insert_for(conn, table)
        if skip_conflicts_on:
            stmt = stmt.on_conflict_do_nothing(index_elements=[skip_conflicts_on])
        if returning:
            stmt = stmt.returning(*(table.c[c] for c in returning))
            return list(conn.execute(stmt, list(rows)).all())
        conn.execute(stmt, list(rows))
        return []
    defaults = _scalar_defaults(table, tuple(rows[0]))
    columns = tuple(rows[0]) + tuple(defaults)
    return driver_execute(conn, _unnest_insert(table, columns, returning, skip_conflicts_on),
                          _params(table, rows, columns, defaults, encoded or {}), fetch=bool(returning))


def add_counts(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: tuple[str, ...],
               counts: tuple[str, ...]) -> None:
    """Upsert `rows` (each a distinct `key`): a stored row of the same key
    gets each of `counts` added (`c = table.c + excluded.c`, which the
    database applies atomically: exact under any number of concurrent
    writers). The rows are written in the order given: the lock order."""
    if not rows:
        return
    if conn.dialect.name != "postgresql":
        conn.execute(_add_statement(conn.dialect.name, table, key, counts), list(rows))
        return
    columns = tuple(rows[0])
    driver_execute(conn, _unnest_insert(table, columns, (), None, key, counts), _params(table, rows, columns, {}, {}))


@lru_cache(maxsize=None)
def _add_statement(dialect: str, table: Table, key: tuple[str, ...], counts: tuple[str, ...]):
    """add_counts as SQLAlchemy's upsert (built once: its compiled form is then found at once)."""
    ins = dialect_insert(dialect, table)
    return ins.on_conflict_do_update(index_elements=list(key),
                                     set_={c: table.c[c] + ins.excluded[c] for c in counts})


def insert_new(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str = "id", *,
               encoded: Mapping[str, Sequence[str]] | None = None) -> list[Any]:
    """Insert the rows whose `key` is not stored yet (of two rows with one
    key, the first); returns the keys of the rows inserted."""
    return [r[0] for r in insert_rows(conn, table, rows, returning=(key,), skip_conflicts_on=key,
                                      encoded=encoded)]
