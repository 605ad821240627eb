"""Each vote once (issue 11): one id form, conflicts under one id recorded,
seq gaps from the distinct seqs. On SQLite and PostgreSQL, through the real app."""
import logging
from sqlalchemy import func, select

from center.db import cases, devices, record_conflicts, records
from center.devicefacts import seq_counts
from tests.support.web import login
from tests.support.center import api_client, make_vote, post_votes

def supervisor(tablet_api):
    tablet_api.app.state.center.add_user("chen", "supervisor", "chen-pass-1")
    return login(tablet_api.app, "chen", "chen-pass-1")


def statuses(r):
    assert r.status_code == 200, r.text
    return [x["status"] for x in r.json()["results"]]


def scalar(api_center, query):
    with api_center.engine.connect() as conn:
        return conn.execute(query).scalar()


def device_row(api_center, device_id="tab-03"):
    with api_center.engine.connect() as conn:
        return conn.execute(select(devices).where(devices.c.device_id == device_id)).one()


def test_one_uuid_in_three_letter_cases_is_stored_once_and_opens_one_case(tablet_api, api_center):
    lower = make_vote("tab-03", 1, bad=True)
    upper = dict(lower, id=lower["id"].upper())
    mixed = dict(lower, id=lower["id"][:13].upper() + lower["id"][13:])
    for order in ([upper, mixed, lower], [lower, upper, mixed], [mixed, lower, upper]):
        r = post_votes(tablet_api, order)
        res = r.json()["results"]
        assert [x["id"] for x in res] == [v["id"] for v in order]     # echoed as sent: the tablet can match it
        for v, x in zip(order, res):
            if v is lower:
                assert x["status"] in ("stored", "duplicate")
            else:
                assert x["status"] == "rejected" and "lowercase hyphenated UUID" in x["reason"]
    assert scalar(api_center, select(func.count()).select_from(records)) == 1
    assert scalar(api_center, select(records.c.id)) == lower["id"]
    assert scalar(api_center, select(func.count()).select_from(cases)) == 1


def test_same_id_with_other_content_answers_duplicate_and_is_recorded_as_a_conflict(tablet_api, api_center, caplog):
    first = make_vote("tab-03", 1, bad=True)
    assert statuses(post_votes(tablet_api, [first])) == ["stored"]
    other = dict(first, staff_name="王芳", comment="改过的内容")
    with caplog.at_level(logging.WARNING, logger="center.ingest"):
        assert statuses(post_votes(tablet_api, [other, first])) == ["duplicate", "duplicate"]
    with api_center.engine.connect() as conn:
        assert conn.execute(select(records.c.body)).scalar_one() == first       # the first copy is kept
        rows = conn.execute(select(record_conflicts)).all()
    assert len(rows) == 1                                                       # the true resend is no conflict
    assert rows[0].record_id == first["id"] and rows[0].device_id == "tab-03"
    assert rows[0].fields == ["comment", "staff_name"] and rows[0].body == other
    assert device_row(api_center).conflict_count == 1
    warned = [m for m in caplog.messages if first["id"] in m and "other content" in m]
    assert len(warned) == 1 and "comment, staff_name" in warned[0]

    cl = supervisor(tablet_api)
    page = cl.get("/devices").text
    assert 'href="/devices/tab-03/gaps#conflicts">1<' in page
    detail = cl.get("/devices/tab-03/gaps").text
    assert first["id"] in detail and "comment, staff_name" in detail


def test_a_conflict_inside_one_batch_keeps_the_first_copy(tablet_api, api_center):
    v = make_vote("tab-03", 1)
    changed = dict(v, rating="basically_satisfied", rating_label="基本满意", satisfaction_code=3)
    assert statuses(post_votes(tablet_api, [v, changed])) == ["stored", "duplicate"]
    with api_center.engine.connect() as conn:
        assert conn.execute(select(records.c.satisfaction_code)).scalar_one() == 2
        assert conn.execute(select(record_conflicts.c.fields)).scalar_one() == [
            "rating", "rating_label", "satisfaction_code"]


def test_an_id_of_another_device_sent_again_is_a_conflict_of_the_sender(api_center):
    v = make_vote("tab-03", 1)
    with api_client(api_center) as a:
        post_votes(a, [v])
    with api_client(api_center, "tab-09") as b:
        r = post_votes(b, [dict(v, device_id="tab-09")], device_id="tab-09")
    assert statuses(r) == ["duplicate"]
    assert device_row(api_center, "tab-09").conflict_count == 1
    assert scalar(api_center, select(record_conflicts.c.fields)) == ["device_id"]


def test_gaps_count_distinct_seqs_and_a_repeated_seq_is_flagged(tablet_api, api_center, caplog):
    votes = [make_vote("tab-03", s) for s in (1, 5, 5, 5, 5)]       # five ids, two distinct seqs
    with caplog.at_level(logging.WARNING, logger="center.ingest"):
        assert statuses(post_votes(tablet_api, votes)) == ["stored"] * 5
    assert sum("stored seq 5 again" in m for m in caplog.messages) == 3
    row = device_row(api_center)
    assert (row.record_count, row.seq_count, row.max_seq) == (5, 2, 5)
    assert seq_counts(row).missing == 3 and seq_counts(row).repeated == 3

    cl = supervisor(tablet_api)
    page = cl.get("/devices").text
    assert 'href="/devices/tab-03/gaps">3<' in page and 'href="/devices/tab-03/gaps#repeated">3<' in page
    detail = cl.get("/devices/tab-03/gaps").text
    assert "<li>2–4</li>" in detail
    assert all(v["id"] in detail for v in votes[1:])

    # the missing ones arrive; a later batch on a taken seq still counts as repeated
    post_votes(tablet_api, [make_vote("tab-03", s) for s in (2, 3, 4)] + [make_vote("tab-03", 1)])
    row = device_row(api_center)
    assert seq_counts(row).missing == 0 and seq_counts(row).repeated == 4
