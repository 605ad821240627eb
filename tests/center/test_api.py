"""The agent-facing API (center/api.py, center/ingest.py), on SQLite and PostgreSQL."""
import json
import uuid
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hallcore.hallclock import DEFAULT_TZ
from center.api import create_app
from center.db import cases, devices, records
from tests.support.center import Clock, make_center, make_vote

NOW = datetime(2026, 11, 27, 15, 5, tzinfo=DEFAULT_TZ)


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW), max_batch=50, max_body_bytes=64 * 1024)
    yield c
    c.engine.dispose()


@pytest.fixture
def client(center):
    token = center.add_device("tab-03", "taojiang", "03")
    with TestClient(create_app(center)) as cl:
        cl.headers["Authorization"] = f"Bearer {token}"
        yield cl


def post(client, votes, device_id="tab-03", **kw):
    return client.post("/api/v1/votes", json={"device_id": device_id, "votes": votes}, **kw)


def stored_ids(center):
    with center.engine.connect() as conn:
        return sorted(conn.execute(select(records.c.id)).scalars())


def test_batch_is_stored_and_each_id_answered_in_order(client, center):
    votes = [make_vote("tab-03", i) for i in (1, 2, 3)]
    r = post(client, votes)
    assert r.status_code == 200
    assert r.json()["results"] == [{"id": v["id"], "status": "stored"} for v in votes]
    assert stored_ids(center) == sorted(v["id"] for v in votes)


def test_record_is_stored_exactly_as_sent(client, center):
    vote = make_vote("tab-03", 1, bad=True)
    post(client, [vote])
    with center.engine.connect() as conn:
        assert conn.execute(select(records.c.body)).scalar_one() == vote


def test_repeated_post_answers_duplicate_and_stores_once(client, center):
    votes = [make_vote("tab-03", i) for i in (1, 2)]
    post(client, votes)
    r = post(client, votes + [make_vote("tab-03", 3)])
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "duplicate", "stored"]
    assert len(stored_ids(center)) == 3


def test_same_id_twice_in_one_batch_is_stored_once(client, center):
    v = make_vote("tab-03", 1)
    r = post(client, [v, v])
    assert [x["status"] for x in r.json()["results"]] == ["stored", "duplicate"]
    assert stored_ids(center) == [v["id"]]


def test_invalid_records_are_rejected_with_the_field_named_and_others_stored(client, center):
    good = make_vote("tab-03", 1)
    no_seq = {k: v for k, v in make_vote("tab-03", 2).items() if k != "seq"}
    bad_id = dict(make_vote("tab-03", 3), id="not-a-uuid")
    r = post(client, [good, no_seq, bad_id, "junk", {}])
    res = r.json()["results"]
    assert r.status_code == 200 and len(res) == 5
    assert res[0] == {"id": good["id"], "status": "stored"}
    assert res[1]["status"] == "rejected" and "seq" in res[1]["reason"]
    assert res[2]["id"] == "not-a-uuid" and "id=" in res[2]["reason"]
    assert res[3] == {"id": None, "status": "rejected", "reason": res[3]["reason"]}
    assert "JSON object" in res[3]["reason"]
    assert res[4]["id"] is None and res[4]["status"] == "rejected"
    assert stored_ids(center) == [good["id"]]


def test_record_of_another_device_in_the_batch_is_rejected(client, center):
    r = post(client, [make_vote("tab-99", 1)])
    res = r.json()["results"][0]
    assert res["status"] == "rejected" and "tab-99" in res["reason"]
    assert stored_ids(center) == []


def test_missing_or_unknown_token_is_401(client):
    votes = [make_vote("tab-03", 1)]
    r = post(client, votes, headers={"Authorization": ""})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    r = post(client, votes, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 401 and "unknown device token" in r.json()["detail"]


def test_a_token_rotated_since_its_lookup_stores_nothing_and_is_401(client, center):
    # POST /votes trusts a token found a few seconds ago; the ingest transaction checks it again
    first, second = make_vote("tab-03", 1), make_vote("tab-03", 2)
    assert post(client, [first]).json()["results"][0]["status"] == "stored"
    new_token = center.rotate_token("tab-03")        # within the trust window of the lookup above
    r = post(client, [second])
    assert r.status_code == 401 and "unknown device token" in r.json()["detail"]
    assert stored_ids(center) == [first["id"]]
    r = post(client, [second], headers={"Authorization": f"Bearer {new_token}"})
    assert r.json()["results"] == [{"id": second["id"], "status": "stored"}]
    with center.engine.connect() as conn:
        assert conn.execute(select(devices.c.record_count)).scalar() == 2


def test_token_of_another_device_is_403(client, center):
    center.add_device("tab-04", "taojiang", "04")
    r = post(client, [make_vote("tab-04", 1)], device_id="tab-04")
    assert r.status_code == 403
    hb = client.post("/api/v1/devices/tab-04/heartbeat", json={"pending": 0, "clock": NOW.isoformat()})
    assert hb.status_code == 403


def test_batch_over_the_record_limit_is_413(client, center):
    r = post(client, [make_vote("tab-03", i) for i in range(1, 52)])
    assert r.status_code == 413 and r.json()["error"] == "batch_too_large"
    assert stored_ids(center) == []


def test_body_over_the_byte_limit_is_413_even_without_content_length(client, center):
    big = {"device_id": "tab-03", "votes": [make_vote("tab-03", 1, comment="x" * 400, bad=True)] * 200}
    data = json.dumps(big).encode()
    r = client.post("/api/v1/votes", content=data, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"] == "body_too_large"

    def chunks():
        for i in range(0, len(data), 8192):
            yield data[i:i + 8192]
    r = client.post("/api/v1/votes", content=chunks(), headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    assert stored_ids(center) == []


def test_malformed_body_is_422_with_a_json_reason(client):
    r = client.post("/api/v1/votes", content=b"{not json", headers={"Content-Type": "application/json"})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"
    r = client.post("/api/v1/votes", json={"device_id": "tab-03"})
    assert r.status_code == 422 and "votes" in r.json()["detail"]


def test_bad_review_opens_a_case_due_by_the_centers_calendar(client, center):
    # Friday 2026-11-27 15:00 -> Tuesday 2026-12-01 17:30 (DESIGN.md section 2)
    vote = make_vote("tab-03", 1, bad=True, due_at=datetime(2026, 12, 3, 17, 30, tzinfo=DEFAULT_TZ))
    post(client, [vote, make_vote("tab-03", 2)])
    with center.engine.connect() as conn:
        (case,) = conn.execute(select(cases)).all()
    assert case.record_id == vote["id"] and case.state == "new"
    assert case.due_at == datetime(2026, 12, 1, 9, 30)          # 17:30 +08:00 in UTC
    assert case.tablet_due_at == datetime(2026, 12, 3, 9, 30)   # the tablet's own, kept


def test_seq_gaps_are_counted_per_device(client, center):
    post(client, [make_vote("tab-03", s) for s in (1, 2, 5, 6, 9)])
    with center.engine.connect() as conn:
        d = conn.execute(select(devices).where(devices.c.device_id == "tab-03")).one()
    assert (d.max_seq, d.record_count) == (9, 5)   # seq 3, 4, 7, 8 missing


def test_a_seq_beyond_32_bits_is_stored_and_counted(client, center):
    # seqs go up to 2**53 (hallcore.record.MAX_SEQ): the records INSERT sends them as bigint[], and
    # the device's max_seq follows them after smaller ones
    for batch in ([1], [2 ** 40], [2 ** 53 - 1, 2 ** 53]):
        assert {x["status"] for x in post(client, [make_vote("tab-03", s) for s in batch])
                .json()["results"]} == {"stored"}
    with center.engine.connect() as conn:
        d = conn.execute(select(devices).where(devices.c.device_id == "tab-03")).one()
    assert (d.max_seq, d.record_count, d.seq_count) == (2 ** 53, 4, 4)


def test_heartbeat_is_stored_and_a_skewed_clock_flagged(client, center):
    beat = {"pending": 12, "oldest_pending": "2026-11-27T14:00:00+08:00", "quarantined": 1,
            "quarantined_ids": [str(uuid.uuid4())], "last_success": None, "last_error": "timeout",
            "version": "0.1.0", "clock": (NOW + timedelta(minutes=10)).isoformat()}
    r = client.post("/api/v1/devices/tab-03/heartbeat", json=beat)
    assert r.status_code == 200
    assert r.json()["clock_skew_s"] == 600 and r.json()["clock_skew_flagged"] is True
    with center.engine.connect() as conn:
        d = conn.execute(select(devices).where(devices.c.device_id == "tab-03")).one()
    assert d.heartbeat["pending"] == 12 and d.clock_skew_s == 600
    ok = client.post("/api/v1/devices/tab-03/heartbeat", json=dict(beat, clock=NOW.isoformat()))
    assert ok.json()["clock_skew_flagged"] is False


def test_heartbeat_with_a_clock_that_is_not_a_time_still_answers(client):
    r = client.post("/api/v1/devices/tab-03/heartbeat", json={"pending": 0, "clock": "yesterday"})
    assert r.status_code == 200 and r.json()["clock_skew_s"] is None


def test_unstorable_text_is_rejected_not_a_server_error(client, center):
    vote = make_vote("tab-03", 1, staff_name="李\x00明")
    r = post(client, [vote])
    assert r.status_code == 200 and r.json()["results"][0]["status"] == "rejected"
    assert "U+0000" in r.json()["results"][0]["reason"]
    lone = json.dumps({"device_id": "tab-03", "votes": [dict(make_vote("tab-03", 2), staff_name="\ud800"),
                                                           dict(make_vote("tab-03", 3), id="\udc00")]})
    r = client.post("/api/v1/votes", content=lone, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and [x["status"] for x in r.json()["results"]] == ["rejected"] * 2
    assert r.json()["results"][1]["id"] is None
    hb = client.post("/api/v1/devices/tab-03/heartbeat",
                     json={"pending": 0, "clock": NOW.isoformat(), "last_error": "x\x00"})
    assert hb.status_code == 422


@pytest.mark.parametrize("at_once", [1, 2])
def test_an_instance_writes_at_most_ingest_at_once_batches_at_a_time(tmp_path, monkeypatch, at_once):
    import asyncio
    import threading
    import time

    import httpx

    import center.api as api
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW), ingest_at_once=at_once)
    tokens = {f"tab-{i}": c.add_device(f"tab-{i}", "taojiang", "03") for i in range(4)}
    lock, now, most = threading.Lock(), [0], [0]
    real = api.ingest

    def counted(*args, **kw):          # the real write, its overlap counted (each held 0.2 s)
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            time.sleep(0.2)
            return real(*args, **kw)
        finally:
            with lock:
                now[0] -= 1
    monkeypatch.setattr(api, "ingest", counted)

    async def four_at_once():
        transport = httpx.ASGITransport(app=create_app(c))
        async with httpx.AsyncClient(transport=transport, base_url="http://center") as client:
            return await asyncio.gather(*(client.post(
                "/api/v1/votes", headers={"Authorization": f"Bearer {t}"},
                json={"device_id": d, "votes": [make_vote(d, 1, window_id="03")]}) for d, t in tokens.items()))
    answers = asyncio.run(four_at_once())
    assert [a.status_code for a in answers] == [200] * 4
    assert most[0] == at_once            # the others waited their turn; none was refused
    assert len(stored_ids(c)) == 4
    c.engine.dispose()
