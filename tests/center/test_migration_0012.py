"""Migration 0012: a record's case takes its record's staff and matter names
(an entry's case has none), and the statistics count cases from the cases
alone, the same as through the join they replace. SQLite and PostgreSQL."""
import json
from datetime import date, datetime

from sqlalchemy import create_engine, select, text

from center import stats
from center.db import cases, migrate
from tests.support.center import make_vote

AT = datetime(2026, 11, 27, 7, 0)


def test_0012_copies_the_names_of_each_cases_record(db_url):
    engine = create_engine(db_url)
    try:
        migrate(engine, "0006")
        v = make_vote("tab-03", 1, bad=True, staff_name="王芳", matter=("M9", "社保卡补办"))
        with engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO records (id, device_id, seq, region_code, hall_id, window_id, department, staff_id, "
                "staff_name, matter_code, matter_name, result, satisfaction_code, bad, day, at, received_at, body) "
                "VALUES (:id, 'tab-03', 1, '430922', 'taojiang', '03', '不动产登记', '1024', '王芳', 'M9', "
                "'社保卡补办', 'rated', 4, true, :day, :at, :at, :body)"),
                {"id": v["id"], "day": AT.date(), "at": AT, "body": json.dumps(v)})
            conn.execute(text("INSERT INTO comments (id, source, verdict, negative, text, window_id, received_at, "
                              "entered_by, entered_at) VALUES (1, 'box', 'bad', true, '态度差', '03', :at, 'chen', :at)"),
                         {"at": AT})
            for source, record_id, comment_id in (("record", v["id"], None), ("comment", None, 1)):
                conn.execute(text(
                    "INSERT INTO cases (record_id, source, comment_id, hall_id, window_id, department, staff_id, "
                    "matter_code, state, voted_at, due_at, calendar_verified, appeal, due_alerted, escalated, "
                    "updated_at) VALUES (:r, :s, :c, 'taojiang', '03', '不动产登记', '1024', 'M9', 'new', :at, :at, "
                    "true, 'none', false, false, :at)"), {"r": record_id, "s": source, "c": comment_id, "at": AT})
        migrate(engine)
        with engine.connect() as conn:
            names = {r.source: (r.staff_name, r.matter_name)
                     for r in conn.execute(select(cases.c.source, cases.c.staff_name, cases.c.matter_name))}
            assert names == {"record": ("王芳", "社保卡补办"), "comment": (None, None)}
            day = date(2026, 11, 27)
            by_staff = {r.key: r.cases for r in stats.summary(conn, day, day, "staff")}
            by_window = {r.key: r.cases for r in stats.summary(conn, day, day, "window")}
        assert by_staff == {("1024", "王芳"): 1}          # an entry's case has no record: not by staff
        assert by_window == {("03",): 2}                   # but it counts for its window
    finally:
        engine.dispose()
