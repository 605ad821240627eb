"""Migration 0004 (the handling mechanism and the directory), on SQLite and
PostgreSQL: it builds exactly the tables center/db.py declares, a case
stored before it keeps its state and gets the new columns' defaults, and it
downgrades cleanly."""
import json
from datetime import datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, select, text

from center.db import cases, metadata, migrate
from hallcore.packagedata import shipped
from tests.support.center import make_vote

NEW_TABLES = {"supervisions", "second_evaluations", "rectification_items", "rectification_log",
              "departments", "windows", "staff"}


def downgrade(engine, revision: str) -> None:
    """Down to `revision`, with SQLite's foreign keys off as db.migrate has
    them (tables that SQLite copies to change, records among them, are
    referenced by rows of others)."""
    cfg = Config()
    cfg.set_main_option("script_location", str(shipped("center", "migrations")))
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
        with conn.begin():
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, revision)


def test_0004_builds_the_declared_tables_keeps_old_cases_and_downgrades(db_url):
    engine = create_engine(db_url)
    try:
        migrate(engine, "0003")
        at = datetime(2026, 11, 27, 7, 0)
        v = make_vote("tab-03", 1, bad=True)
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO records (id, device_id, seq, region_code, hall_id, window_id, department, "
                "staff_id, staff_name, matter_code, matter_name, result, satisfaction_code, bad, day, at, "
                "received_at, body) VALUES (:id, 'tab-03', 1, '430922', 'taojiang', '03', '不动产登记', "
                "'1024', '李明', 'M1', '居民身份证换领', 'rated', 4, true, :day, :at, :at, :body)"),
                {"id": v["id"], "day": at.date(), "at": at, "body": json.dumps(v)})
            conn.execute(text(
                "INSERT INTO cases (record_id, hall_id, window_id, department, staff_id, matter_code, state, "
                "voted_at, due_at, calendar_verified, appeal, due_alerted, escalated, updated_at) VALUES "
                "(:id, 'taojiang', '03', '不动产登记', '1024', 'M1', 'verifying', :at, :at, true, 'none', "
                "false, false, :at)"), {"id": v["id"], "at": at})
        migrate(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
            c = conn.execute(select(cases)).one()
        assert c.state == "verifying"
        assert (c.ruled_on_spot, c.visited, c.second_evaluated, c.structural, c.supervision_count) == (
            False, False, False, False, 0)
        assert (c.assigned_department, c.proposal, c.rectification, c.reply_told_at) == (None,) * 4
        assert NEW_TABLES <= set(inspect(engine).get_table_names())

        downgrade(engine, "0003")
        insp = inspect(engine)
        assert not NEW_TABLES & set(insp.get_table_names())
        assert "supervision_count" not in {col["name"] for col in insp.get_columns("cases")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT state FROM cases")).scalar_one() == "verifying"
        migrate(engine)                              # and up again
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()
