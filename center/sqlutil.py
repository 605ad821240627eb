"""The two SQL idioms that differ between SQLite and PostgreSQL."""
from __future__ import annotations

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection


def insert_for(conn: Connection, table: Table):
    """An INSERT that supports ON CONFLICT on this connection's database."""
    return (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(table)


def is_retryable(exc: Exception) -> bool:
    """A deadlock or serialization failure: the whole transaction may be retried."""
    text = str(getattr(exc, "orig", exc)).lower()
    return "deadlock" in text or "could not serialize" in text or "database is locked" in text
