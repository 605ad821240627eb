"""A center upgraded before its tablets still accepts every valid schema-1
record (issue 11): records exactly as the tablets in the field make them.

data/schema1_records.json holds records made at commit 401d638 (before the
range checks) by hallcore.record.new_record and numbered by the real disk
outbox, in every shape a kiosk produces: both scales, bad reviews with and
without comment and phone, each unrated reason, a tablet on UTC, empty staff.
"""
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select, text

from center.api import create_app
from center.auth import new_device_token, token_hash
from center.db import cases, migrate, records
from hallcore.record import new_record
from hallcore.workdays import deadline
from outbox.store import Outbox
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import Clock, api_client, make_center, post_votes

SAMPLE = json.loads((Path(__file__).parent / "data" / "schema1_records.json").read_text(encoding="utf-8"))
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)      # three days after the sample was made


def stored(center):
    with center.engine.connect() as conn:
        return {r.id: r.body for r in conn.execute(select(records.c.id, records.c.body))}


def count_cases(center):
    with center.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(cases)).scalar()


def test_the_committed_schema1_sample_is_stored_as_sent(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW))
    try:
        with api_client(c, "tab-03", region_code="430922") as client:
            r = post_votes(client, SAMPLE)
        assert [x["status"] for x in r.json()["results"]] == ["stored"] * len(SAMPLE)
        assert stored(c) == {v["id"]: v for v in SAMPLE}
        assert count_cases(c) == 3
    finally:
        c.engine.dispose()


def test_records_the_current_kiosk_code_makes_are_stored(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW))
    t = NOW - timedelta(hours=1)
    common = dict(device_id="tab-03", region_code="430922", hall_id="taojiang", window_id="03",
                  staff_id="1024", staff_name="李明", case_no=None, matter_code="GA001",
                  matter_name="居民身份证换领", matter_count=1, matter_index=1, prompted_at=t, finished_at=t,
                  now=NOW)
    due = deadline(t, 2)
    shapes = [dict(scale_size=3, rating="satisfied", voted_at=t),
              dict(scale_size=5, rating="very_satisfied", voted_at=t, called_at=t - timedelta(minutes=9)),
              dict(scale_size=3, rating="dissatisfied", voted_at=t, reasons=["其他"], comment=None,
                   due_at=due.due_at, calendar_verified=due.verified),
              dict(scale_size=5, rating="very_dissatisfied", voted_at=t.astimezone(timezone.utc),
                   reasons=["乱收费", "拖拉推诿"], comment="多收了钱", contact_phone="13912345678",
                   due_at=due.due_at, calendar_verified=due.verified),
              *(dict(scale_size=3, unrated_reason=why) for why in ("timeout", "cancelled", "interrupted"))]
    try:
        with Outbox(tmp_path / "outbox", "tab-03") as ob:
            for i, shape in enumerate(shapes):
                ob.put(new_record(ticket=f"A{i:03d}", **common, **shape))
            pending = sorted(ob.pending(), key=lambda r: r["seq"])
        with api_client(c, "tab-03", region_code="430922") as client:
            r = post_votes(client, pending)
        assert [x["status"] for x in r.json()["results"]] == ["stored"] * len(shapes)
        assert stored(c) == {v["id"]: v for v in pending}
    finally:
        c.engine.dispose()


def test_a_center_migrated_from_0001_accepts_its_enrolled_tablets_records(db_url, tmp_path):
    # enrolled by the old code (no region), some records already stored, then upgraded
    token = new_device_token()
    engine = create_engine(db_url)
    migrate(engine, "0001")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO devices (device_id, hall_id, window_id, token_hash, created_at, record_count, "
                          "max_seq, rejected_count) VALUES ('tab-03', 'taojiang', '03', :h, :at, 0, 0, 0)"),
                     {"h": token_hash(token), "at": datetime(2026, 11, 1)})
    engine.dispose()
    c = make_center(db_url, tmp_path, clock=Clock(NOW))            # migrates to the newest schema
    try:
        with TestClient(create_app(c)) as client:
            client.headers["Authorization"] = f"Bearer {token}"
            first = post_votes(client, SAMPLE[:4])
            rest = post_votes(client, SAMPLE[4:] + SAMPLE[:1])
        assert [x["status"] for x in first.json()["results"]] == ["stored"] * 4
        assert [x["status"] for x in rest.json()["results"]] == ["stored"] * (len(SAMPLE) - 4) + ["duplicate"]
        assert stored(c) == {v["id"]: v for v in SAMPLE}
    finally:
        c.engine.dispose()
