"""The shipped migrations (center/migrations): they build the tables the code
declares, and 0002 carries a running center's devices over. SQLite and PostgreSQL.
Several instances migrating one fresh database at the same moment take turns."""
import json
import threading
from datetime import datetime

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, insert, select, text

from center.db import devices, make_engine, metadata, migrate
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import make_vote


def test_the_migrations_build_exactly_the_declared_tables(db_url):
    engine = create_engine(db_url)
    try:
        migrate(engine)
        with engine.connect() as conn:
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        engine.dispose()


def test_instances_starting_together_migrate_one_fresh_database_once(db_url):
    engines = [make_engine(db_url) for _ in range(3)]          # as each Center makes its own
    start = threading.Barrier(len(engines))
    errors: list[BaseException] = []

    def run(engine):
        try:
            start.wait(10)
            migrate(engine)
        except BaseException as e:  # noqa: BLE001 - reported by the assertion below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(e,)) for e in engines]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == []
        with engines[0].connect() as conn:
            assert len(conn.execute(text("SELECT version_num FROM alembic_version")).all()) == 1
            assert compare_metadata(MigrationContext.configure(conn), metadata) == []
    finally:
        for e in engines:
            e.dispose()


def test_0002_fills_distinct_seqs_and_the_region_of_devices_already_enrolled(db_url):
    engine = create_engine(db_url)
    try:
        migrate(engine, "0001")
        at = datetime(2026, 11, 27, 7, 0)
        with engine.begin() as conn:
            for dev in ("tab-03", "tab-new"):
                conn.execute(text("INSERT INTO devices (device_id, hall_id, window_id, token_hash, created_at, "
                                  "record_count, max_seq, rejected_count) VALUES (:d, 'taojiang', '03', :h, :at, "
                                  "0, 0, 0)"), {"d": dev, "h": dev * 8, "at": at})
            for i, seq in enumerate((1, 2, 2, 5), start=1):
                v = make_vote("tab-03", seq, region_code="430922")
                conn.execute(text(
                    "INSERT INTO records (id, device_id, seq, region_code, hall_id, window_id, department, "
                    "staff_id, staff_name, matter_code, matter_name, result, satisfaction_code, bad, day, at, "
                    "received_at, body) VALUES (:id, 'tab-03', :seq, '430922', 'taojiang', '03', 'd', 's', 's', "
                    "'m', 'm', 'rated', 2, false, :day, :at, :at, :body)"),
                    {"id": v["id"], "seq": seq, "day": at.date(), "at": at, "body": json.dumps(v)})
        migrate(engine)
        with engine.connect() as conn:
            rows = {r.device_id: r for r in conn.execute(select(devices))}
        assert (rows["tab-03"].seq_count, rows["tab-03"].region_code, rows["tab-03"].conflict_count) == (3, "430922", 0)
        assert (rows["tab-new"].seq_count, rows["tab-new"].region_code) == (0, None)
        with engine.begin() as conn:            # the new columns take new rows with their defaults
            conn.execute(insert(devices).values(device_id="tab-x", hall_id="h", window_id="w", token_hash="x" * 64,
                                                created_at=datetime.now(DEFAULT_TZ).replace(tzinfo=None)))
            assert conn.execute(select(devices.c.seq_count).where(devices.c.device_id == "tab-x")).scalar() == 0
    finally:
        engine.dispose()


def test_0007_takes_the_channel_from_the_body_and_rebuilds_the_rollup_by_channel_and_rating(db_url):
    from center.db import daily_stats, records
    engine = create_engine(db_url)
    try:
        migrate(engine, "0006")
        at = datetime(2026, 11, 27, 7, 0)
        rows = [("tab-03", 1, "satisfied", 2, False, "hall_tablet"), ("tab-03", 2, "satisfied", 2, False, "hall_tablet"),
                ("tab-03", 3, "dissatisfied", 4, True, "hall_tablet"), ("integration:county", 1, "satisfied", 2, False, "pc"),
                ("tab-03", 4, None, None, False, None)]          # an unrated record whose body lacks a channel
        with engine.begin() as conn:
            for device, seq, rating, code, bad, channel in rows:
                v = make_vote(device, seq, unrated=rating is None, bad=bad)
                if channel is None:
                    del v["channel"]
                else:
                    v["channel"] = channel
                conn.execute(text(
                    "INSERT INTO records (id, device_id, seq, region_code, hall_id, window_id, department, "
                    "staff_id, staff_name, matter_code, matter_name, result, satisfaction_code, bad, day, at, "
                    "received_at, body) VALUES (:id, :dev, :seq, '430922', 'taojiang', '03', 'd', 's', 's', "
                    "'m', 'm', :result, :code, :bad, :day, :at, :at, :body)"),
                    {"id": v["id"], "dev": device, "seq": seq, "result": "rated" if rating else "unrated",
                     "code": code, "bad": bad, "day": at.date(), "at": at, "body": json.dumps(v)})
            conn.execute(text(
                "INSERT INTO daily_stats (day, department, window_id, staff_id, staff_name, matter_code, "
                "matter_name, total, rated, good, bad, excluded) VALUES (:day, 'd', '03', 's', 's', 'm', 'm', "
                "5, 4, 3, 1, 0)"), {"day": at.date()})
        migrate(engine)
        with engine.connect() as conn:
            channels = sorted(conn.execute(select(records.c.seq, records.c.device_id, records.c.channel)).all())
            stat = {(r.channel, r.satisfaction_code): (r.total, r.rated, r.good, r.bad)
                    for r in conn.execute(select(daily_stats))}
        assert [c for *_, c in channels] == ["pc", "hall_tablet", "hall_tablet", "hall_tablet", "hall_tablet"]
        assert stat == {("hall_tablet", 2): (2, 2, 2, 0), ("hall_tablet", 4): (1, 1, 0, 1),
                        ("pc", 2): (1, 1, 1, 0), ("hall_tablet", 0): (1, 0, 0, 0)}
    finally:
        engine.dispose()
