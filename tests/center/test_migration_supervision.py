"""Migration 0005 (综合点评, 监督查评) on SQLite and PostgreSQL: a database
holding cases, their log and alerts before it keeps them all (SQLite copies
the cases table to drop the NOT NULL of record_id), and the migrated schema
is the one center/db.py describes."""
from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.config import Config
from sqlalchemy import insert, select, text
from sqlalchemy.exc import IntegrityError

from hallcore.packagedata import shipped
from center.db import case_log, cases, make_engine, metadata, migrate


def before_0005() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(shipped("center", "migrations")))
    return ScriptDirectory.from_config(cfg).get_revision("0005").down_revision


T = datetime(2026, 11, 27, 7, 0)


def old_case_rows(conn, *, at_head: bool = False):
    """A record, its case, a log line and an alert, with the columns every
    revision before 0005 has (at head, a record also names its channel: 0007)."""
    channel = ("channel, ", "'hall_tablet', ") if at_head else ("", "")
    conn.execute(text(
        "INSERT INTO records (id, device_id, seq, region_code, hall_id, window_id, department, "
        f"staff_id, staff_name, matter_code, matter_name, result, satisfaction_code, bad, {channel[0]}day, "
        "at, received_at, body) VALUES ('r1', 'tab-03', 1, '430922', 'taojiang', '03', '不动产登记', "
        f"'1024', '李明', 'M1', '居民身份证换领', 'rated', 4, :t, {channel[1]}:day, :at, :at, '{{}}')"),
        dict(t=True, day=T.date(), at=T))
    conn.execute(text(
        "INSERT INTO cases (id, record_id, hall_id, window_id, department, staff_id, matter_code, "
        "state, voted_at, due_at, calendar_verified, appeal, due_alerted, escalated, updated_at) "
        "VALUES (1, 'r1', 'taojiang', '03', '不动产登记', '1024', 'M1', 'new', :at, :at, :t, 'none', "
        ":f, :f, :at)"), dict(at=T, t=True, f=False))
    conn.execute(text("INSERT INTO case_log (case_id, at, actor, action, to_state) "
                      "VALUES (1, :at, '系统', 'open', 'new')"), dict(at=T))
    conn.execute(text("INSERT INTO alerts (case_id, kind, channel, payload, created_at, attempts, "
                      "next_attempt_at) VALUES (1, 'new_case', 'webhook', '{}', :at, 0, :at)"), dict(at=T))


def test_existing_cases_survive_and_become_record_cases(db_url):
    engine = make_engine(db_url)
    try:
        migrate(engine, before_0005())
        with engine.begin() as conn:
            old_case_rows(conn)
        migrate(engine)
        with engine.connect() as conn:
            (case,) = conn.execute(select(cases)).all()
            assert (case.record_id, case.source, case.comment_id) == ("r1", "record", None)
            assert conn.execute(select(case_log.c.case_id)).scalars().all() == [1]
            assert conn.execute(text("SELECT count(*) FROM alerts WHERE case_id = 1")).scalar() == 1
            assert not compare_metadata(MigrationContext.configure(conn), metadata)
        if engine.dialect.name == "sqlite":
            with engine.connect() as conn:        # foreign keys are on again after migrating
                assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("values", [
    dict(source="record", record_id=None, comment_id=None),      # a record case without its record
    dict(source="comment", record_id=None, comment_id=None),     # an entry's case without its entry
    dict(source="elsewhere", record_id="r1", comment_id=None),
])
def test_a_case_names_exactly_its_one_source(db_url, values):
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            old_case_rows(conn, at_head=True)
        with pytest.raises(IntegrityError), engine.begin() as conn:
            conn.execute(insert(cases).values(
                hall_id="", window_id="03", department="", staff_id="", matter_code="", state="new",
                voted_at=T, due_at=T, calendar_verified=True, appeal="none", due_alerted=False,
                escalated=False, updated_at=T, **values))
    finally:
        engine.dispose()


def test_downgrade_drops_the_entries_cases_and_keeps_the_records(db_url):
    from alembic import command
    engine = make_engine(db_url)
    try:
        migrate(engine)
        with engine.begin() as conn:
            old_case_rows(conn, at_head=True)
            conn.execute(text("INSERT INTO comments (id, source, verdict, negative, text, received_at, "
                              "entered_by, entered_at) VALUES (1, 'box', 'bad', :t, '差', :at, 'chen', :at)"),
                         dict(t=True, at=T))
            conn.execute(text(
                "INSERT INTO cases (id, source, comment_id, hall_id, window_id, department, staff_id, "
                "matter_code, state, voted_at, due_at, calendar_verified, appeal, due_alerted, "
                "escalated, updated_at) VALUES (2, 'comment', 1, '', '', '', '', '', 'new', :at, :at, "
                ":t, 'none', :f, :f, :at)"), dict(at=T, t=True, f=False))
        cfg = Config()
        cfg.set_main_option("script_location", str(shipped("center", "migrations")))
        with engine.connect() as conn:
            if engine.dialect.name == "sqlite":
                conn.connection.driver_connection.execute("PRAGMA foreign_keys=OFF")
            with conn.begin():
                cfg.attributes["connection"] = conn
                command.downgrade(cfg, before_0005())
        with engine.connect() as conn:
            assert conn.execute(text("SELECT id, record_id FROM cases")).all() == [(1, "r1")]
    finally:
        engine.dispose()
