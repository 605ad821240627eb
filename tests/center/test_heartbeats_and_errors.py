"""Heartbeats and error shapes (issue 11): strict, bounded heartbeats; an
unknown tablet clock flagged; every API error in the documented
{"error", "detail"} shape; the body read only after the token is checked.
On SQLite and PostgreSQL, through the real app."""
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from center import api
from center.db import devices
from tests.support.web import login
from tests.support.center import API_NOW as NOW, make_vote

BEAT = "/api/v1/devices/tab-03/heartbeat"


def documented(r, status):
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"} and all(isinstance(v, str) and v for v in body.values()), body
    return body


WRONG_BEATS = [
    ("pending", "5"), ("pending", True), ("pending", 5.0), ("pending", -1), ("quarantined", "1"),
    ("quarantined_ids", ["x" * 65]), ("quarantined_ids", ["a"] * 1001), ("quarantined_ids", "abc"),
    ("quarantined_ids", [1]), ("version", "v" * 65), ("last_error", "e" * 2001), ("clock", 20261127),
    ("clock", "2" * 41), ("clock_problem", "p" * 301), ("oldest_pending", False),
    ("chain_head", {"seq": "1", "hash": "a" * 64}), ("chain_head", {"seq": -1, "hash": "a" * 64}),
    ("chain_head", {"seq": 1, "hash": "A" * 64}), ("chain_head", {"seq": 1, "hash": "a" * 63}),
    ("chain_head", {"seq": 1}), ("chain_head", {"hash": "a" * 64}), ("chain_head", "a" * 64),
    ("chain_head", {"seq": 2 ** 53 + 1, "hash": "a" * 64}), ("chain_head", ["a" * 64]),
]


def test_a_heartbeat_of_the_wrong_type_or_size_is_refused_in_the_documented_shape(tablet_api, api_center):
    for field, value in WRONG_BEATS:
        body = documented(tablet_api.post(BEAT, json={"pending": 3, "clock": NOW.isoformat(), field: value}), 422)
        assert body["error"] == "invalid_request" and field in body["detail"], (field, value)
    with api_center.engine.connect() as conn:
        assert conn.execute(select(devices.c.heartbeat)).scalar() is None        # nothing kept


def test_an_unknown_or_absurd_tablet_clock_is_a_flagged_unknown_skew(tablet_api, api_center):
    for clock in ("not a time", "2026-11-27T15:05:00", "4000-01-01T00:00:00+08:00",
                  "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1970-01-01T00:00:00+00:00"):
        r = tablet_api.post(BEAT, json={"pending": 3, "clock": clock})
        assert r.status_code == 200, r.text
        assert r.json()["clock_skew_s"] is None and r.json()["clock_skew_flagged"] is True, clock
        with api_center.engine.connect() as conn:
            row = conn.execute(select(devices)).one()
        assert row.clock_skew_s is None and row.heartbeat["clock"] == clock and row.heartbeat["pending"] == 3


def test_a_known_skew_is_measured_and_flagged_beyond_the_limit(tablet_api):
    near = tablet_api.post(BEAT, json={"pending": 0, "clock": (NOW + timedelta(seconds=30)).isoformat()}).json()
    assert (near["clock_skew_s"], near["clock_skew_flagged"]) == (30, False)
    off = tablet_api.post(BEAT, json={"pending": 0, "clock": (NOW + timedelta(days=3)).isoformat()}).json()
    assert (off["clock_skew_s"], off["clock_skew_flagged"]) == (3 * 86400, True)


def test_a_tablet_that_reports_its_own_clock_wrong_is_flagged_and_shown(tablet_api, api_center):
    api_center.add_user("chen", "supervisor", "chen-pass-1")
    problem = "the clock says 2000-01-01T08:00:00+08:00, before 2026-11-01 (release of this software)"
    r = tablet_api.post(BEAT, json={"pending": 2, "clock": "2000-01-01T08:00:00+08:00", "clock_problem": problem})
    assert r.json()["clock_skew_flagged"] is True and r.json()["clock_skew_s"] is None
    page = login(tablet_api.app, "chen", "chen-pass-1").get("/devices").text
    assert "未知" in page and "平板报告时钟错误" in page and "before 2026-11-01" in page


def test_a_heartbeat_from_an_older_agent_is_still_accepted(tablet_api):
    # no clock_problem, unknown keys ignored: agents are upgraded after the center
    r = tablet_api.post(BEAT, json={"pending": 1, "clock": NOW.isoformat(), "quarantined": 0,
                                "quarantined_ids": [], "last_success": None, "last_error": None,
                                "version": "0.1.0", "oldest_pending": None, "something_new": 1})
    assert r.status_code == 200 and r.json()["clock_skew_flagged"] is False


def test_the_chain_head_is_kept_per_device_until_another_is_reported(tablet_api, api_center):
    def row():
        with api_center.engine.connect() as conn:
            return conn.execute(select(devices)).one()
    head = {"seq": 7, "hash": "c" * 64}
    assert tablet_api.post(BEAT, json={"pending": 2, "clock": NOW.isoformat(), "chain_head": head}).status_code == 200
    r = row()
    assert (r.chain_seq, r.chain_hash, r.chain_pending) == (7, "c" * 64, 2) and r.chain_reported_at is not None
    assert r.heartbeat["chain_head"] == head
    # an agent without a head (downgraded, or schema 1) does not erase the last one reported
    assert tablet_api.post(BEAT, json={"pending": 0, "clock": NOW.isoformat()}).status_code == 200
    assert (row().chain_seq, row().chain_pending) == (7, 2)
    tablet_api.post(BEAT, json={"pending": 0, "clock": NOW.isoformat(), "chain_head": {"seq": 9, "hash": "d" * 64}})
    assert (row().chain_seq, row().chain_hash, row().chain_pending) == (9, "d" * 64, 0)


BAD_BODIES = [b'{"device_id": "tab-03", "votes": ["\xff\xfe"]}', b"\xc3\x28",
              b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 70 + b"1" + b"}" * 70,
              b"{not json", b"", b'"\xef\xbb\xbf"']


def test_a_body_that_is_not_utf8_json_or_nests_too_deep_gets_the_documented_shape(tablet_api):
    for path in ("/api/v1/votes", BEAT):
        for raw in BAD_BODIES:
            r = tablet_api.post(path, content=raw, headers={"Content-Type": "application/json"})
            assert documented(r, 422)["error"] == "invalid_request", (path, raw[:20])


@pytest.mark.parametrize("path", ["/api/v1/votes", BEAT])
def test_a_bad_token_is_refused_before_the_body_is_read(tablet_api, monkeypatch, path):
    parsed = []
    real = api.parse_json
    monkeypatch.setattr(api, "parse_json", lambda raw: parsed.append(raw) or real(raw))
    for token in ("", "Bearer nope", "Basic abc"):
        body = documented(tablet_api.post(path, content=b"\xff" + b"[" * 100_000,
                                      headers={"Authorization": token}), 401)
        assert body["error"] == "unauthorized"
    assert parsed == []
    tablet_api.post(path, content=b"{}")                       # with the right token it is read
    assert parsed == [b"{}"]


def test_another_devices_heartbeat_is_refused_before_its_body_is_read(tablet_api, api_center, monkeypatch):
    api_center.add_device("tab-04", "taojiang", "04")
    parsed = []
    monkeypatch.setattr(api, "parse_json", lambda raw: parsed.append(raw))
    assert documented(tablet_api.post("/api/v1/devices/tab-04/heartbeat", content=b"\xff"), 403)["error"] == "forbidden"
    assert parsed == []


def test_unknown_calls_and_methods_answer_in_the_documented_shape(tablet_api):
    assert documented(tablet_api.get("/api/v1/nothing"), 404)["error"] == "not_found"
    assert documented(tablet_api.get("/api/v1/votes"), 405)["error"] == "method_not_allowed"
    assert documented(tablet_api.put(BEAT, json={}), 405)["error"] == "method_not_allowed"


def test_a_number_too_long_for_python_rejects_only_its_record(tablet_api):
    good = make_vote("tab-03", 2)
    raw = ('{"device_id": "tab-03", "votes": [' + json.dumps(dict(make_vote("tab-03", 1), seq=0))
           .replace('"seq": 0', '"seq": ' + "9" * 5000) + ", " + json.dumps(good) + "]}")
    r = tablet_api.post("/api/v1/votes", content=raw.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200
    assert [x["status"] for x in r.json()["results"]] == ["rejected", "stored"]
    assert "seq=inf" in r.json()["results"][0]["reason"]


def test_a_vote_batch_of_the_wrong_shape_is_refused_strictly(tablet_api):
    for payload in ({"device_id": "tab-03", "votes": {"0": {}}}, {"device_id": 3, "votes": []},
                    {"votes": []}, [], "votes"):
        assert documented(tablet_api.post("/api/v1/votes", json=payload), 422)["error"] == "invalid_request"
