"""Alembic environment: run by center.db.migrate() with an open connection."""
from alembic import context

from center.db import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through center.db.migrate(engine)")
context.configure(connection=connection, target_metadata=metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
