"""No record can block a queue (issue 11): out-of-range values are rejected
naming the field, and a record the api_center cannot store is rejected alone,
with an error id that is in the log. On SQLite and PostgreSQL, through the real app."""
import logging
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError

from center import casework, ingest as ingest_module
from center.api import create_app
from center.config import ConfigError, load_config
from center.db import alerts, cases, devices, records
from hallcore.timebounds import TimeBounds
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import API_NOW as NOW, Clock, api_client, make_center, make_vote, post_votes



def stored_ids(api_center):
    with api_center.engine.connect() as conn:
        return sorted(conn.execute(select(records.c.id)).scalars())


def count(api_center, table):
    with api_center.engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar()


def far(n, **values):
    """Bad review number `n` with `values` put in (new_record cannot even build these)."""
    return dict(make_vote("tab-03", n, bad=True), **values)


def test_values_no_database_could_take_are_rejected_naming_the_field_and_the_rest_stored(tablet_api, api_center):
    batch = [far(1, seq=2 ** 63),                                        # bigint out of range
             far(2, voted_at="9999-12-31T23:59:59-14:00"),               # OverflowError in the calendar
             far(3, voted_at="0001-01-01T00:00:00+14:00", prompted_at="0001-01-01T00:00:00+14:00"),
             make_vote("tab-03", 4, bad=True), make_vote("tab-03", 5)]
    r = post_votes(tablet_api, batch)
    assert r.status_code == 200
    res = r.json()["results"]
    assert [x["status"] for x in res] == ["rejected", "rejected", "rejected", "stored", "stored"]
    assert "seq=9223372036854775808" in res[0]["reason"]
    assert "voted_at='9999-12-31T23:59:59-14:00'" in res[1]["reason"]
    assert "prompted_at=" in res[2]["reason"] and "voted_at=" in res[2]["reason"]
    assert stored_ids(api_center) == sorted(v["id"] for v in batch[3:])
    assert count(api_center, cases) == 1


def test_each_bad_review_alone_as_the_agent_sends_them_never_blocks_the_next(tablet_api, api_center):
    # bad reviews go first, one at a time: the one the center cannot take must not stop the others
    queue = [far(1, seq=2 ** 63), far(2, voted_at="9999-12-31T23:59:59-14:00"), make_vote("tab-03", 3, bad=True)]
    answers = [post_votes(tablet_api, [v]) for v in queue]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert [a.json()["results"][0]["status"] for a in answers] == ["rejected", "rejected", "stored"]


def test_a_1990_bad_review_is_rejected_and_never_escalated(tablet_api, api_center):
    t = datetime(1990, 3, 1, 10, 0, tzinfo=DEFAULT_TZ).isoformat()
    res = post_votes(tablet_api, [far(1, prompted_at=t, voted_at=t, due_at=t)]).json()["results"]
    assert res[0]["status"] == "rejected"
    assert "a time not before 2019-12-01T00:00:00+08:00" in res[0]["reason"]
    casework.tick(api_center)                                   # the deadline check that would escalate it
    assert count(api_center, cases) == 0 and count(api_center, alerts) == 0


def test_a_record_more_than_a_day_ahead_of_the_centers_clock_is_rejected(tablet_api, api_center):
    ahead = (NOW + timedelta(days=1, minutes=1)).isoformat()
    ok = (NOW + timedelta(hours=23)).isoformat()
    res = post_votes(tablet_api, [dict(make_vote("tab-03", 1), prompted_at=ahead, voted_at=ahead),
                              dict(make_vote("tab-03", 2), prompted_at=ok, voted_at=ok)]).json()["results"]
    assert [x["status"] for x in res] == ["rejected", "stored"]
    assert "after the clock that checks it (2026-11-27T15:05:00+08:00)" in res[0]["reason"]


def test_the_bounds_come_from_the_centers_config(db_url, tmp_path):
    bounds = TimeBounds(earliest=datetime(2026, 11, 1, tzinfo=DEFAULT_TZ), ahead=timedelta(hours=1))
    c = make_center(db_url, tmp_path, clock=Clock(NOW), record_bounds=bounds)
    try:
        with api_client(c) as tablet_api:
            res = post_votes(tablet_api, [make_vote("tab-03", 1, at=datetime(2026, 10, 31, 12, tzinfo=DEFAULT_TZ)),
                                      make_vote("tab-03", 2, at=NOW + timedelta(hours=2)),
                                      make_vote("tab-03", 3)]).json()["results"]
        assert [x["status"] for x in res] == ["rejected", "rejected", "stored"]
        assert "not before 2026-11-01" in res[0]["reason"] and "at most 1 hour(s)" in res[1]["reason"]
    finally:
        c.engine.dispose()


def test_config_keys_for_bounds_and_region_are_read_and_checked(tmp_path):
    p = tmp_path / "center.toml"
    p.write_text('[center]\ndatabase = "c.sqlite3"\nregion_code = "430922"\n'
                 'records_not_before = 2024-01-01\nrecords_max_ahead_h = 2\n', encoding="utf-8")
    cfg = load_config(p)
    assert cfg.region_code == "430922" and cfg.record_bounds.ahead == timedelta(hours=2)
    assert cfg.record_bounds.earliest == datetime(2024, 1, 1, tzinfo=DEFAULT_TZ)
    for bad, key in (('region_code = "4309"', "region_code"), ('records_not_before = "soon"', "records_not_before"),
                     ("records_max_ahead_h = 0", "records_max_ahead_h")):
        p.write_text(f'[center]\ndatabase = "c.sqlite3"\n{bad}\n', encoding="utf-8")
        with pytest.raises(ConfigError, match=key):
            load_config(p)


def _error_id(reason: str) -> str:
    m = re.search(r"error ([0-9a-f]{12})", reason)
    assert m, reason
    return m.group(1)


def test_a_record_the_database_refuses_is_rejected_alone_with_an_error_id_in_the_log(tablet_api, api_center, caplog,
                                                                                     monkeypatch):
    # what the schema's range check now keeps out: a seq the database cannot hold, reaching the INSERT
    batch = [make_vote("tab-03", i, bad=(i % 2 == 0)) for i in range(1, 7)]
    poison = batch[2]["id"]
    real_row = ingest_module.record_row

    def row(rec, department, received_at):
        out = real_row(rec, department, received_at)
        return dict(out, seq=2 ** 63) if rec["id"] == poison else out
    monkeypatch.setattr(ingest_module, "record_row", row)
    with caplog.at_level(logging.WARNING, logger="center.ingest"):
        r = post_votes(tablet_api, batch)
    assert r.status_code == 200
    res = {x["id"]: x for x in r.json()["results"]}
    assert res[poison]["status"] == "rejected" and "could not store this record" in res[poison]["reason"]
    error_id = _error_id(res[poison]["reason"])
    logged = [rec for rec in caplog.records if error_id in rec.getMessage()]
    assert logged and logged[0].levelno == logging.ERROR and logged[0].exc_info is not None
    assert poison in logged[0].getMessage()
    assert stored_ids(api_center) == sorted(v["id"] for v in batch if v["id"] != poison)
    assert count(api_center, cases) == 3                               # every other bad review has its case
    with api_center.engine.connect() as conn:
        dev = conn.execute(select(devices)).one()
    assert (dev.record_count, dev.seq_count, dev.rejected_count) == (5, 5, 1)


def test_a_failure_while_opening_a_case_takes_back_that_record_only(tablet_api, api_center, monkeypatch):
    batch = [make_vote("tab-03", i, bad=True) for i in range(1, 4)]
    poison = batch[1]["id"]
    real_cases = casework.record_cases

    def record_cases(c, items, now):          # ingest makes a batch's cases together
        if any(rec["id"] == poison for rec, _row in items):
            raise ValueError("the calendar broke on this one")
        return real_cases(c, items, now)
    monkeypatch.setattr(casework, "record_cases", record_cases)
    res = post_votes(tablet_api, batch).json()["results"]
    assert [x["status"] for x in res] == ["stored", "rejected", "stored"]
    assert poison not in stored_ids(api_center)                        # never a bad review without its case
    assert count(api_center, cases) == 2
    monkeypatch.setattr(casework, "record_cases", real_cases)
    assert post_votes(tablet_api, [batch[1]]).json()["results"][0]["status"] == "stored"   # sent again: stored


def test_a_failure_of_the_database_itself_is_not_blamed_on_a_record(api_center, monkeypatch):
    # rejected records are quarantined on the tablet: an outage must answer 5xx, never reject
    def down(*_a, **_k):
        raise OperationalError("INSERT", {}, Exception("server closed the connection unexpectedly"))
    monkeypatch.setattr(ingest_module, "_write", down)
    token = api_center.add_device("tab-03", "taojiang", "03")
    with TestClient(create_app(api_center), raise_server_exceptions=False) as tablet_api:
        tablet_api.headers["Authorization"] = f"Bearer {token}"
        r = post_votes(tablet_api, [make_vote("tab-03", 1)])
    assert r.status_code == 500
    assert r.json()["error"] == "internal_error" and "error " in r.json()["detail"]
    assert stored_ids(api_center) == []


def test_a_record_the_checks_themselves_fail_on_is_rejected_alone(tablet_api, monkeypatch, caplog):
    batch = [make_vote("tab-03", i) for i in (1, 2, 3)]
    real = ingest_module.validate_record

    def validate(rec, **kw):
        if rec.get("seq") == 2:
            raise RecursionError("a checker bug")
        return real(rec, **kw)
    monkeypatch.setattr(ingest_module, "validate_record", validate)
    with caplog.at_level(logging.ERROR, logger="center.ingest"):
        res = post_votes(tablet_api, batch).json()["results"]
    assert [x["status"] for x in res] == ["stored", "rejected", "stored"]
    assert any(_error_id(res[1]["reason"]) in m for m in caplog.messages)


def test_a_write_that_fails_only_where_a_batchs_last_writes_are_sent_takes_back_that_record_only(pg_url, tmp_path):
    # on PostgreSQL a batch's log lines, alerts, rollup and device counters go as one statement
    # (sqlutil.together): a record whose rollup row the database refuses fails there, and the
    # batch is then written one by one, that record alone rejected
    c = make_center(pg_url, tmp_path)
    c.add_device("tab-03", "taojiang", "03")
    with c.engine.begin() as conn:
        conn.exec_driver_sql("CREATE FUNCTION no_poison() RETURNS trigger LANGUAGE plpgsql AS "
                             "$$ BEGIN RAISE EXCEPTION 'no rollup for this staff'; END $$")
        conn.exec_driver_sql("CREATE TRIGGER no_poison BEFORE INSERT ON daily_stats FOR EACH ROW "
                             "WHEN (NEW.staff_name = '毒') EXECUTE FUNCTION no_poison()")
    batch = [make_vote("tab-03", 1, bad=True), make_vote("tab-03", 2, staff_name="毒"), make_vote("tab-03", 3)]
    res = ingest_module.ingest(c, "tab-03", batch)
    assert [x["status"] for x in res] == ["stored", "rejected", "stored"]
    assert "could not store this record" in res[1]["reason"]
    assert stored_ids(c) == sorted(batch[i]["id"] for i in (0, 2))
    assert count(c, cases) == 1 and count(c, alerts) >= 1
    with c.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT sum(total) FROM daily_stats").scalar() == 2
        dev = conn.execute(select(devices)).one()
    assert (dev.record_count, dev.rejected_count) == (2, 1)
    c.engine.dispose()
