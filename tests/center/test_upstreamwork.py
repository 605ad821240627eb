"""The provincial push against the reference receiver (tests/support/receiver.py),
in-process with the test clock, on SQLite and PostgreSQL: every evaluation
the center stores (tablet, integration API, QR page) arrives once, with the
reversed satisfaction codes; an outage, a duplicate, a timeout and a restart
lose nothing and send nothing twice; a 整改结果 and a 二次评价 arrive after
their evaluation; a corrected profile applies to the backlog."""
from __future__ import annotations

import copy
import threading
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from center import casework, qrpage, upstreamwork
from center.api import create_app
from center.cases import Actor
from center.db import cases, upstream_outbox
from center.integration import add_client
from center.province import Province
from center.qrcheck import QrFields
from center.upstream import Retry, UpstreamSettings
from tests.support.center import API_NOW, Clock, api_client, make_center, make_vote, post_votes
from tests.support.province import HUNAN, profile, raw
from tests.support.receiver import ProvinceReceiver
from tests.support.waiting import wait_for

EVAL, RECT = "/evaluation", "/rectification"
HANDLER = Actor("wang", "handler", "03")
RETRY = Retry(30, 600)


@pytest.fixture
def province():
    with ProvinceReceiver() as p:
        yield p


def settings(p: ProvinceReceiver, prof: Province | None = None, **over) -> UpstreamSettings:
    kw = dict(url=p.url(EVAL), profile=prof or Province.load(HUNAN), rectification_url=p.url(RECT),
              timeout_s=1.0, retry=RETRY, tick_s=1, batch=20)
    kw.update(over)
    return UpstreamSettings(**kw)


@pytest.fixture
def center(db_url, tmp_path, province):
    c = make_center(db_url, tmp_path, clock=Clock(API_NOW), region_code="430922", upstream=settings(province))
    yield c
    c.engine.dispose()


@pytest.fixture
def tablet(center):
    with api_client(center) as client:
        yield client


def drain(center, rounds: int = 20) -> list[upstreamwork.Round]:
    """Forward until a round claims nothing (bounded)."""
    out = []
    for _ in range(rounds):
        r = upstreamwork.forward(center)
        out.append(r)
        if r.claimed == 0:
            return out
    raise AssertionError(f"still claiming after {rounds} rounds: {out[-1]}")


def after_backoff(center, attempts: int = 1) -> None:
    center.clock.advance(seconds=RETRY.wait(attempts) + 1)


def outbox(center) -> list:
    with center.engine.connect() as conn:
        return conn.execute(select(upstream_outbox).order_by(upstream_outbox.c.id)).all()


def store(tablet, *votes):
    r = post_votes(tablet, list(votes))
    assert {x["status"] for x in r.json()["results"]} == {"stored"}, r.text


# ------------------------------------------------------------------ every evaluation, once, with its codes

def test_three_level_codes_arrive_reversed_with_the_hall_tablet_channel(center, tablet, province):
    store(tablet, make_vote("tab-03", 1, rating="satisfied"),
          make_vote("tab-03", 2, rating="basically_satisfied"),
          make_vote("tab-03", 3, bad=True))
    drain(center)
    got = province.accepted(EVAL)
    # the province's 1 = 非常不满意 … 5 = 非常满意: 满意 4, 基本满意 3, 不满意 2 (GB/T 39046: 2, 3, 4)
    assert {k: (v["satisfaction"], v["pf"]) for k, v in got.items()} == {
        ("CN000001", 1): (4, 4), ("CN000002", 1): (3, 4), ("CN000003", 1): (2, 4)}
    bad = got[("CN000003", 1)]
    assert (bad["evalDetail"], bad["writingEvaluation"], bad["proStatus"]) == ("4", "等了很久", 2)
    assert (bad["assessTime"], bad["proDepart"], bad["dataSource"]) == ("2026-11-27 15:00:00", "不动产登记", "000")
    assert "13812345678" not in repr(got)                   # the call-back phone never goes up
    assert [r.sent_at is not None for r in outbox(center)] == [True] * 3
    assert province.answers("accepted") == 3 and province.answers("duplicate") == 0


def test_five_level_codes_arrive_reversed(center, tablet, province):
    ratings = ["very_satisfied", "satisfied", "basically_satisfied", "dissatisfied", "very_dissatisfied"]
    store(tablet, *[make_vote("tab-03", i, scale_size=5, rating=r, bad=r.endswith("dissatisfied"))
                    for i, r in enumerate(ratings, start=1)])
    drain(center)
    assert [province.accepted(EVAL)[(f"CN00000{i}", 1)]["satisfaction"] for i in range(1, 6)] == [5, 4, 3, 2, 1]


def test_integration_and_qr_page_evaluations_go_up_with_their_channels(center, province):
    token = add_client(center, "zwfw", "taojiang")
    with TestClient(create_app(center)) as client:
        r = client.post("/api/v1/integration/evaluations", headers={"Authorization": f"Bearer {token}"},
                        json={"hall_id": "taojiang",
                              "evaluations": [make_vote("integration:zwfw", 1, channel="mobile", case_no="ZW1")]})
        assert r.json()["results"][0]["status"] == "stored"
    qrpage.rate(center, QrFields("taojiang", "QR1"), "", "basically_satisfied", [])
    drain(center)
    got = province.accepted(EVAL)
    assert (got[("ZW1", 1)]["pf"], got[("ZW1", 1)]["satisfaction"]) == (2, 4)
    assert (got[("QR1", 1)]["pf"], got[("QR1", 1)]["satisfaction"]) == (3, 3)


def test_records_that_never_go_up_are_counted_not_queued(center, tablet, province):
    store(tablet, make_vote("tab-03", 1, unrated=True), make_vote("tab-03", 2, case_no=None),
          make_vote("tab-03", 3, case_no="SAME", matter=("M1", "甲")),
          make_vote("tab-03", 4, case_no="SAME", matter=("M2", "乙")),
          make_vote("tab-03", 5))
    store(tablet, make_vote("tab-03", 6, case_no="SAME", matter=("M3", "丙")))
    assert len(outbox(center)) == 2                          # SAME once, CN000005
    drain(center)
    assert set(province.accepted(EVAL)) == {("SAME", 1), ("CN000005", 1)}
    with center.engine.connect() as conn:
        st = upstreamwork.status(conn, center.clock(), center.cfg.upstream)
    assert st.skipped == {"no_case_no": 1, "same_key": 2, "unrated": 1}
    assert st.skipped_today == st.skipped                    # the records are of today

def test_a_center_without_upstream_queues_nothing(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(API_NOW))
    with api_client(c) as client:
        store(client, make_vote("tab-03", 1))
    assert outbox(c) == [] and upstreamwork.forward(c).claimed == 0
    c.engine.dispose()


# ------------------------------------------------------------------ outage, duplicates, timeouts

def test_an_outage_loses_nothing_and_tries_one_message_per_round(center, tablet, province):
    province.down(500)
    store(tablet, *[make_vote("tab-03", i) for i in range(1, 6)])
    r = upstreamwork.forward(center)
    assert (r.claimed, r.failed, r.released, r.sent) == (5, 1, 4, 0)
    assert r.outage.startswith("HTTP 500")
    r = upstreamwork.forward(center)                         # the other four are still due: one more try
    assert (r.failed, r.released) == (1, 3)
    with center.engine.connect() as conn:
        st = upstreamwork.status(conn, center.clock(), center.cfg.upstream)
    assert st.backlog == 5 and st.pending == {"评价": 5}
    assert st.last_error["status"] == 500 and "系统繁忙" in st.last_error["text"] and not st.last_error["resolved"]
    assert [f["attempts"] for f in st.failing] == [1, 1]
    for _ in range(3):                                       # still down, with time passing
        after_backoff(center, 3)
        upstreamwork.forward(center)
    province.up()
    after_backoff(center, 5)
    drain(center)
    assert set(province.accepted(EVAL)) == {(f"CN00000{i}", 1) for i in range(1, 6)}
    assert province.answers("accepted") == 5 and province.answers("duplicate") == 0
    with center.engine.connect() as conn:
        st = upstreamwork.status(conn, center.clock(), center.cfg.upstream)
    assert st.backlog == 0 and st.sent_today == 5 and st.last_error["resolved"] and st.failing == []


def test_a_refused_message_is_its_own_and_the_round_goes_on(center, tablet, province):
    store(tablet, *[make_vote("tab-03", i) for i in range(1, 4)])
    province.fail(0)
    province.down(422)                                       # a 4xx: this message's problem, not an outage
    r = upstreamwork.forward(center)
    assert (r.claimed, r.failed, r.released, r.outage) == (3, 3, 0, None)
    province.up()
    after_backoff(center)
    drain(center)
    assert len(province.accepted(EVAL)) == 3


def test_an_answer_that_the_data_exists_counts_as_sent(center, tablet, province):
    province.preload(EVAL, ("CN000001", 1))                  # the province has it: sent before a crash
    store(tablet, make_vote("tab-03", 1), make_vote("tab-03", 2))
    r = upstreamwork.forward(center)
    assert (r.sent, r.already_sent, r.failed) == (1, 1, 0)
    rows = outbox(center)
    assert [(x.last_outcome, x.sent_at is not None) for x in rows] == [("already_sent", True), ("sent", True)]
    assert upstreamwork.forward(center).claimed == 0
    with center.engine.connect() as conn:
        st = upstreamwork.status(conn, center.clock(), center.cfg.upstream)
    assert (st.sent_total, st.already_sent_total) == (2, 1)


def test_a_timeout_is_retried_and_the_province_stores_it_once(center, tablet, province):
    store(tablet, make_vote("tab-03", 1), make_vote("tab-03", 2))
    province.hold_next(2.5)                                  # past the 1 s timeout; stored all the same
    r = upstreamwork.forward(center)
    assert r.failed == 1 and r.released == 1 and "no answer within 1 s" in r.outage
    wait_for(lambda: province.seen(), what="the held request to be stored")
    after_backoff(center)
    drain(center)
    assert set(province.accepted(EVAL)) == {("CN000001", 1), ("CN000002", 1)}
    # the retry met the stored copy: "评价数据不可重复", counted as sent, stored once
    first = [s for s in province.seen() if s.key == ("CN000001", 1)]
    assert [s.answer for s in first] == ["accepted", "duplicate"]
    assert outbox(center)[0].last_outcome == "already_sent"


def test_an_idempotency_key_is_sent_when_the_profile_names_a_header(db_url, tmp_path, province):
    c = make_center(db_url, tmp_path, clock=Clock(API_NOW),
                    upstream=settings(province, profile(idempotency_header="Idempotency-Key")))
    with api_client(c) as client:
        store(client, make_vote("tab-03", 1))
    drain(c)
    assert province.seen()[0].headers["idempotency-key"] == "evaluation:CN000001:1"
    c.engine.dispose()


# ------------------------------------------------------------------ restarts

def test_a_restart_mid_backlog_sends_everything_once(db_url, tmp_path, province):
    clock = Clock(API_NOW)
    first = make_center(db_url, tmp_path, clock=clock, upstream=settings(province, batch=2))
    with api_client(first) as client:
        store(client, *[make_vote("tab-03", i) for i in range(1, 8)])
    upstreamwork.forward(first)                              # two go
    stop = threading.Event()
    stop.set()                                               # shutting down while holding a batch:
    r = upstreamwork.forward(first, stop=stop)               # it gives the batch back untried
    assert (r.claimed, r.released, r.sent) == (2, 2, 0)
    first.engine.dispose()
    again = make_center(db_url, tmp_path, clock=clock, upstream=settings(province, batch=2))
    drain(again)
    assert len(province.accepted(EVAL)) == 7 and province.answers("duplicate") == 0
    again.engine.dispose()


def test_a_center_killed_holding_a_batch_sends_it_once_the_lease_ends(db_url, tmp_path, province):
    from center.leasing import claim_due
    from hallcore.hallclock import to_db
    clock = Clock(API_NOW)
    c = make_center(db_url, tmp_path, clock=clock, upstream=settings(province))
    with api_client(c) as client:
        store(client, make_vote("tab-03", 1), make_vote("tab-03", 2))
    s = c.cfg.upstream
    # the dead instance: claimed, sent one (the province has it), died before writing "sent"
    claim_due(c.engine, upstream_outbox, pending=upstreamwork.pending_clause(), now=to_db(clock()),
              lease_s=s.lease_s, limit=s.batch)
    province.preload(EVAL, ("CN000001", 1))
    assert upstreamwork.forward(c).claimed == 0               # leased: nobody else sends them
    clock.advance(seconds=s.lease_s + 1)
    drain(c)
    assert set(province.accepted(EVAL)) == {("CN000001", 1), ("CN000002", 1)}
    assert [x.last_outcome for x in outbox(c)] == ["already_sent", "sent"]
    c.engine.dispose()


# ------------------------------------------------------------------ 整改结果 and 二次评价

def _case_id(center) -> int:
    with center.engine.connect() as conn:
        return conn.execute(select(cases.c.id)).scalar_one()


def test_a_rectification_arrives_after_its_evaluation_even_when_that_failed_first(center, tablet, province):
    store(tablet, make_vote("tab-03", 1, bad=True))
    province.down()
    upstreamwork.forward(center)                             # the evaluation fails
    casework.act(center, _case_id(center), "rectify", HANDLER, note="已对窗口人员批评教育并整改")
    after_backoff(center)
    province.up()
    r = upstreamwork.forward(center)
    assert (r.claimed, r.sent) == (1, 1)                     # the evaluation alone: the 整改 waits for it
    drain(center)
    assert province.order() == [(EVAL, ("CN000001", 1)), (RECT, ("CN000001", 1))]
    rect = province.accepted(RECT)[("CN000001", 1)]
    assert rect == {"projectNo": "CN000001", "proStatus": 3, "assessNumber": 1, "dataSource": "000",
                    "rectifyResult": "已对窗口人员批评教育并整改", "rectifyTime": "2026-11-27 15:05:00"}


def test_a_rectification_edited_before_it_went_is_sent_as_it_stands(center, tablet, province):
    store(tablet, make_vote("tab-03", 1, bad=True))
    casework.act(center, _case_id(center), "rectify", HANDLER, note="初稿")
    casework.act(center, _case_id(center), "rectify", HANDLER, note="定稿：已整改")
    drain(center)
    assert province.accepted(RECT)[("CN000001", 1)]["rectifyResult"] == "定稿：已整改"
    assert len(outbox(center)) == 2


def test_the_second_evaluation_goes_as_assess_number_2_after_the_rectification(center, tablet, province):
    store(tablet, make_vote("tab-03", 1, bad=True))
    case_id = _case_id(center)
    casework.act(center, case_id, "rectify", HANDLER, note="已整改")
    center.clock.advance(hours=1)
    casework.act(center, case_id, "second_evaluation", qrpage.QR_ACTOR, rating="satisfied", scale=3,
                 record_id="00000000-0000-4000-8000-000000000002")
    drain(center)
    assert province.order() == [(EVAL, ("CN000001", 1)), (RECT, ("CN000001", 1)), (EVAL, ("CN000001", 2))]
    second = province.accepted(EVAL)[("CN000001", 2)]
    assert (second["satisfaction"], second["pf"], second["proStatus"], second["assessTime"]) == \
        (4, 3, 1, "2026-11-27 16:05:00")
    assert (second["evalDetail"], second["writingEvaluation"]) == ("", "")


def test_a_rectification_of_a_record_stored_before_upstream_was_on_queues_its_evaluation_first(
        db_url, tmp_path, province):
    clock = Clock(API_NOW)
    off = make_center(db_url, tmp_path, clock=clock)
    with api_client(off) as client:
        store(client, make_vote("tab-03", 1, bad=True))
    off.engine.dispose()
    on = make_center(db_url, tmp_path, clock=clock, upstream=settings(province))
    casework.act(on, _case_id(on), "rectify", HANDLER, note="已整改")
    drain(on)
    assert province.order() == [(EVAL, ("CN000001", 1)), (RECT, ("CN000001", 1))]
    on.engine.dispose()


# ------------------------------------------------------------------ built when sent

def test_a_corrected_profile_applies_to_the_backlog(db_url, tmp_path, province):
    clock = Clock(API_NOW)
    data = raw()
    del data["other_reason"]
    strict = profile(copy.deepcopy(data))
    c = make_center(db_url, tmp_path, clock=clock, upstream=settings(province, strict))
    with api_client(c) as client:
        store(client, make_vote("tab-03", 1, bad=True, reasons=["窗口太冷"]), make_vote("tab-03", 2))
    r = upstreamwork.forward(c)
    assert (r.unmappable, r.sent) == (1, 1)                  # one record's mapping does not stop the rest
    row = outbox(c)[0]
    assert row.last_outcome == "unmappable" and "'窗口太冷' has no code" in row.last_error
    c.engine.dispose()
    data["reasons"]["窗口太冷"] = "9"                         # the hall fixes its profile and restarts
    fixed = make_center(db_url, tmp_path, clock=clock, upstream=settings(province, profile(data)))
    after_backoff(fixed)
    drain(fixed)
    assert province.accepted(EVAL)[("CN000001", 1)]["evalDetail"] == "9"
    fixed.engine.dispose()


def test_backfill_queues_what_was_stored_before_upstream_was_configured(db_url, tmp_path, province):
    clock = Clock(API_NOW)
    off = make_center(db_url, tmp_path, clock=clock)
    with api_client(off) as client:
        store(client, make_vote("tab-03", 1), make_vote("tab-03", 2, bad=True), make_vote("tab-03", 3, unrated=True),
              make_vote("tab-03", 4, at=API_NOW - timedelta(days=30)))
    casework.act(off, _case_id(off), "rectify", HANDLER, note="已整改")
    off.engine.dispose()
    on = make_center(db_url, tmp_path, clock=clock, upstream=settings(province))
    counts = upstreamwork.backfill(on, API_NOW.date() - timedelta(days=1), chunk=2)
    assert counts == {"records": 3, "queued": 2, "unrated": 1, "no_case_no": 0, "same_key": 0, "case_messages": 1}
    assert upstreamwork.backfill(on, API_NOW.date() - timedelta(days=1))["queued"] == 0     # again: nothing new
    drain(on)
    assert set(province.accepted(EVAL)) == {("CN000001", 1), ("CN000002", 1)}
    assert set(province.accepted(RECT)) == {("CN000002", 1)}
    on.engine.dispose()


def test_pause_between_rounds(province):
    s = settings(province, batch=5)
    full = upstreamwork.Round(claimed=5, sent=5)
    assert upstreamwork.pause_after(full, 0, s) == 0.0                   # drain the backlog
    assert upstreamwork.pause_after(upstreamwork.Round(claimed=2, sent=2), 0, s) == 1.0
    down = upstreamwork.Round(claimed=5, failed=1, released=4, outage="HTTP 500")
    assert [upstreamwork.pause_after(down, n, s) for n in (1, 2, 3, 10)] == [30, 60, 120, 600]
    refused = upstreamwork.Round(claimed=5, failed=5)                    # a 401 for each: nothing taken
    assert upstreamwork.pause_after(refused, 1, s) == 30
    some = upstreamwork.Round(claimed=5, failed=4, sent=1)               # progress: not stalled
    assert upstreamwork.pause_after(some, 0, s) == 0.0
    assert upstreamwork.pause_after(None, 0, s) == 1.0                   # a failed round: the idle tick


def test_outbox_counts_stay_exact_under_replays(center, tablet):
    v = make_vote("tab-03", 1)
    store(tablet, v)
    assert post_votes(tablet, [v]).json()["results"][0]["status"] == "duplicate"
    with center.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(upstream_outbox)).scalar() == 1



def test_concurrent_batches_sharing_case_numbers_queue_each_key_once(pg_url, tmp_path, province):
    from center.ingest import ingest
    c = make_center(pg_url, tmp_path, clock=Clock(API_NOW), upstream=settings(province))
    devices = [f"tab-{i}" for i in range(4)]
    for d in devices:
        c.add_device(d, "taojiang", "03")
    start = threading.Barrier(len(devices))
    answers: dict[str, list] = {}

    def post(d: str) -> None:
        # every device's batch names the same 30 case numbers, in its own order
        votes = [make_vote(d, n, case_no=f"K{(n * (devices.index(d) + 1)) % 30:03d}") for n in range(1, 31)]
        start.wait()
        answers[d] = ingest(c, d, votes)

    threads = [threading.Thread(target=post, args=(d,)) for d in devices]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert all(a["status"] == "stored" for d in devices for a in answers[d])
    rows = outbox(c)
    assert len(rows) == 30 and len({r.message_key for r in rows}) == 30
    with c.engine.connect() as conn:
        st = upstreamwork.status(conn, c.clock(), c.cfg.upstream)
    assert st.skipped == {"same_key": 90}
    drain(c)
    assert len(province.accepted(EVAL)) == 30
    c.engine.dispose()
