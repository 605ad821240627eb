"""The SQL idioms that differ between SQLite and PostgreSQL."""
from __future__ import annotations

import json
import re
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, Iterator, Mapping, Sequence

import orjson
from sqlalchemy import JSON, BigInteger, Boolean, Date, DateTime, Integer, SmallInteger, String, Table, Text, event
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
    pending = conn.info.get(_TOGETHER)
    if pending is not None:
        if not fetch and pending.take(sql, params):
            return []
        pending.flush()             # what was sent before runs before this
    return _run(conn, sql, params, fetch, named)


def _run(conn: Connection, sql: str, params, fetch: bool, named: bool) -> list[tuple]:
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
        raise _as_sqlalchemy(conn, e, sql, cur) from e
    finally:
        cur.close()


def _as_sqlalchemy(conn: Connection, e: Exception, sql: str, cur=None) -> DBAPIError:
    """The driver's error `e` as SQLAlchemy raises it (the connection
    invalidated if `e` says it is lost); the statement, not its rows, in the log."""
    lost = conn.dialect.is_disconnect(e, conn.connection.dbapi_connection, cur)
    if lost:
        conn.invalidate(e)
    return DBAPIError.instance(sql, None, e, conn.dialect.loaded_dbapi.Error, connection_invalidated=lost,
                               dialect=conn.dialect)


_TOGETHER = "hall_together"        # conn.info key: the _Together of a `together` block
_WRITE_TARGET = re.compile(r"(?:INSERT INTO|UPDATE) (\w+) ")
_NAMED = re.compile(r"%\((\w+)\)s")


class _Together:
    """The no-result writes of a `together` block not yet sent."""

    def __init__(self, conn: Connection):
        self.conn, self.parts, self.tables = conn, [], set()

    def take(self, sql: str, params) -> bool:
        """Keep a write for the next flush (False: run it now, after a flush).
        A second write to a table already pending is not merged: two
        changes of one row in one statement are not both applied."""
        target = _WRITE_TARGET.match(sql)
        if target is None or target.group(1) in self.tables:
            return False
        if isinstance(params, Mapping):       # execute_built's named parameters, as positional ones
            names = _NAMED.findall(sql)
            sql, params = _NAMED.sub("%s", sql), [params[n] for n in names]
        self.parts.append((sql, list(params)))
        self.tables.add(target.group(1))
        return True

    def flush(self) -> None:
        parts, self.parts, self.tables = self.parts, [], set()
        if not parts:
            return
        if len(parts) == 1:
            sql, params = parts[0]
        else:       # WITH w1 AS (write 1), … the last write: one statement, one round trip
            sql = ("WITH " + ", ".join(f"w{i} AS ({p[0]})" for i, p in enumerate(parts[:-1], 1))
                   + " " + parts[-1][0])
            params = [v for _, ps in parts for v in ps]
        _run(self.conn, sql, params, False, False)


@contextmanager
def together(conn: Connection, enabled: bool = True) -> Iterator[None]:
    """On PostgreSQL, the writes that return nothing (driver_execute without
    fetch: add_counts, insert_rows without returning, execute_built of an
    UPDATE) are held and sent as one statement (WITH w1 AS (…), …) when the
    next statement reads, when SQLAlchemy executes anything (together_aware)
    or at the end of the block: in that order, as if each ran alone, but a
    transaction of ten statements makes six round trips. An error of a held
    write is raised where they are sent. SQLite, or `enabled` false: each runs at once."""
    if not enabled or conn.dialect.name != "postgresql" or _TOGETHER in conn.info:
        yield
        return
    conn.info[_TOGETHER] = pending = _Together(conn)
    try:
        yield
        pending.flush()
    finally:
        conn.info.pop(_TOGETHER, None)


def together_aware(engine: Engine) -> None:
    """Send the writes a `together` block holds before any SQLAlchemy
    execution on `engine`'s connections, so they run in the order written."""
    if engine.dialect.name != "postgresql":
        return

    @event.listens_for(engine, "before_execute")
    def _flush(conn, *_args):
        pending = conn.info.get(_TOGETHER)
        if pending is not None:
            pending.flush()


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
                   adding: tuple[str, ...] = (), where: str = "") -> str:
    """INSERT … SELECT … FROM ROWS FROM (json_to_recordset(the rows' other
    columns as one JSON text), json_array_elements(one JSON array per JSON
    column: the rows' values)) [WHERE …] [ON CONFLICT (key) DO NOTHING | ON
    CONFLICT (add_on) DO UPDATE SET c = table.c + excluded.c] [RETURNING …]:
    one statement of fixed text for any number of rows, so psycopg prepares
    it once and nothing is parsed per row; the rows are encoded by orjson at
    once, and a JSON column's texts joined into one array, instead of value
    by value (psycopg's array dumper encodes each element in Python)."""
    cols = [table.c[c] for c in columns]
    plain = [c for c in cols if not isinstance(c.type, JSON)]
    docs = [c for c in cols if isinstance(c.type, JSON)]
    fields = ", ".join(f"{c.name} {_array_type(c)}" for c in plain)
    sources = [f"json_to_recordset(%s::json) AS ({fields})"] if plain else []
    sources += ["json_array_elements(%s::json)"] * len(docs)
    names = ", ".join(c.name for c in plain + docs)
    # an element null is the row's None: SQL NULL, as SQLAlchemy writes it
    picked = ", ".join([f"u.{c.name}" for c in plain]
                       + [f"CASE WHEN json_typeof(u.{c.name}) = 'null' THEN NULL ELSE u.{c.name} END" for c in docs])
    sql = (f"INSERT INTO {table.name} ({names}) SELECT {picked} FROM ROWS FROM ({', '.join(sources)}) "
           f"AS u({names})")
    if where:
        sql += f" WHERE {where}"
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
    then per JSON column one JSON array of the rows' values (null for None)."""
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
        texts = encoded[name] if name in encoded else [
            None if r[name] is None else json.dumps(r[name], ensure_ascii=False) for r in rows]
        # one JSON array of the rows' texts: one parameter, not an array of a hundred
        params.append("[" + ",".join("null" if t is None else t for t in texts) + "]")
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


def _insert_columns(table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """(the scalar defaults of the columns the rows leave out, every column
    written: the rows' own, then those), for _unnest_insert and _params."""
    defaults = _scalar_defaults(table, tuple(rows[0]))
    return defaults, tuple(rows[0]) + tuple(defaults)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], *,
                returning: tuple[str, ...] = (), skip_conflicts_on: str | None = None,
                encoded: Mapping[str, Sequence[str]] | None = None) -> list[Any]:
    """Insert `rows` (dicts with the same columns) in one statement; with
    `skip_conflicts_on` a row whose key is stored already (or comes earlier
    in `rows`) is left out. Returns the `returning` columns of the rows
    inserted, in no promised order.

    PostgreSQL: the rows as one JSON text, one JSON array per JSON column
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
    defaults, columns = _insert_columns(table, rows)
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


def insert_new_with_children(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]], key: str,
                             child: Table, child_rows: Sequence[Mapping[str, Any]], child_key: str, *,
                             encoded: Mapping[str, Sequence[str]] | None = None
                             ) -> tuple[list[Any], dict[Any, Any]]:
    """insert_new of `rows`, and of `child_rows` (at most one per parent:
    their `child_key` names a row of `rows`) those whose parent is inserted
    now; returns (the keys inserted, {child_key: the child's id} of the
    children inserted).

    PostgreSQL: one statement (WITH p AS (INSERT … RETURNING key), c AS
    (INSERT INTO child … WHERE child_key IN (SELECT key FROM p) RETURNING …)),
    a round trip and a statement less than two; the child's foreign key is
    checked at the statement's end, when its parent is there. SQLite: the
    two in turn."""
    if not rows:
        return [], {}
    if conn.dialect.name != "postgresql" or not child_rows:
        new = insert_new(conn, table, rows, key, encoded=encoded)
        fresh = set(new)
        picked = [r for r in child_rows if r[child_key] in fresh]
        return new, dict(insert_rows(conn, child, picked, returning=(child_key, "id")))
    defaults, columns = _insert_columns(table, rows)
    child_defaults, child_columns = _insert_columns(child, child_rows)
    sql = _with_children(table, columns, key, child, child_columns, child_key)
    params = (_params(table, rows, columns, defaults, encoded or {})
              + _params(child, child_rows, child_columns, child_defaults, {}))
    new, children = [], {}
    for parent_key, child_of, child_id in driver_execute(conn, sql, params, fetch=True):
        if child_of is None:
            new.append(parent_key)
        else:
            children[child_of] = child_id
    return new, children


@lru_cache(maxsize=None)
def _with_children(table: Table, columns: tuple[str, ...], key: str, child: Table,
                   child_columns: tuple[str, ...], child_key: str) -> str:
    parent = _unnest_insert(table, columns, (key,), key)
    kids = _unnest_insert(child, child_columns, (child_key, "id"), None,
                          where=f"u.{child_key} IN (SELECT {key} FROM p)")
    return (f"WITH p AS ({parent}), c AS ({kids}) "
            f"SELECT {key}, NULL::text, NULL::bigint FROM p UNION ALL SELECT NULL, {child_key}::text, id FROM c")
