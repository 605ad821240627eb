"""The integration API for the 互联网+政务服务 platform (center/integration.py), on SQLite and PostgreSQL."""
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from center.api import create_app
from center.db import cases, integration_clients, records
from center.export import export_row
from center.integration import add_client
from tests.support.center import api_client, make_vote, post_votes

URL = "/api/v1/integration/evaluations"
DEV = "integration:zwfw"


@pytest.fixture
def platform(api_center):
    token = add_client(api_center, "zwfw", "taojiang")
    with TestClient(create_app(api_center)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


def evaluation(seq, channel="pc", **kw):
    return make_vote(DEV, seq, channel=channel, **kw)


def post(client, evaluations, hall_id="taojiang", **kw):
    return client.post(URL, json={"hall_id": hall_id, "evaluations": evaluations}, **kw)


def test_stored_once_by_id_with_per_id_answers_and_conflicts_recorded(platform, api_center):
    first = [evaluation(1), evaluation(2, "mobile")]
    r = post(platform, first)
    assert r.status_code == 200
    assert r.json()["results"] == [{"id": e["id"], "status": "stored"} for e in first]
    changed = dict(first[0], rating_label="满意", comment=None, staff_name="王五")
    r = post(platform, [first[1], changed, evaluation(3, "sms")])
    assert [x["status"] for x in r.json()["results"]] == ["duplicate", "duplicate", "stored"]
    with api_center.engine.connect() as conn:
        bodies = {b["id"]: b for b in conn.execute(select(records.c.body)).scalars()}
        client_row = conn.execute(select(integration_clients)).one()
    assert len(bodies) == 3 and bodies[first[0]["id"]] == first[0]    # the first copy is kept
    assert (client_row.record_count, client_row.seq_count, client_row.max_seq, client_row.conflict_count) \
        == (3, 3, 3, 1)


def test_a_tablet_channel_is_refused_to_the_platform_and_the_reason_named(platform, api_center):
    r = post(platform, [evaluation(1, "hall_tablet"), dict(evaluation(2), channel="carrier_pigeon"), evaluation(3, "qr")])
    res = r.json()["results"]
    assert r.status_code == 200
    assert res[0]["status"] == "rejected"
    assert "integration source may only write pc, mobile, qr, hall_terminal, phone, sms" in res[0]["reason"]
    assert res[1]["status"] == "rejected" and "channel" in res[1]["reason"]
    assert res[2]["status"] == "stored"
    with api_center.engine.connect() as conn:
        assert conn.execute(select(integration_clients.c.rejected_count)).scalar_one() == 2


def test_a_tablet_may_send_only_hall_tablet(tablet_api):
    r = post_votes(tablet_api, [make_vote("tab-03", 1, channel="qr"), make_vote("tab-03", 2)])
    res = r.json()["results"]
    assert res[0]["status"] == "rejected"
    assert "tablet source may only write hall_tablet" in res[0]["reason"]
    assert res[1]["status"] == "stored"


def test_wrong_or_missing_token_is_401_in_the_error_shape(platform):
    r = post(platform, [evaluation(1)], headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert "add-integration" in r.json()["detail"]
    r = post(platform, [evaluation(1)], headers={"Authorization": ""})
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"


def test_a_device_token_is_no_integration_token(api_center):
    with api_client(api_center) as tablet:
        r = post(tablet, [evaluation(1)])
    assert r.status_code == 401


def test_another_hall_is_403_and_a_record_of_another_hall_rejected(platform, api_center):
    r = post(platform, [evaluation(1)], hall_id="liuyang")
    assert r.status_code == 403 and r.json()["error"] == "forbidden"
    assert "enrolled for hall 'taojiang', not 'liuyang'" in r.json()["detail"]
    r = post(platform, [evaluation(2, hall_id="liuyang")])
    res = r.json()["results"][0]
    assert res["status"] == "rejected" and "not this client's enrollment: hall_id 'liuyang'" in res["reason"]


def test_another_clients_device_id_is_rejected(platform):
    r = post(platform, [make_vote("tab-03", 1, channel="pc")])
    res = r.json()["results"][0]
    assert res["status"] == "rejected" and "differs from the sending device 'integration:zwfw'" in res["reason"]


def test_a_bad_review_opens_a_case_and_exports_its_channel_label(platform, api_center):
    bad = evaluation(1, "mobile", bad=True)
    assert post(platform, [bad]).json()["results"][0]["status"] == "stored"
    with api_center.engine.connect() as conn:
        case = conn.execute(select(cases)).one()
        body = conn.execute(select(records.c.body)).scalar_one()
    assert case.record_id == bad["id"] and case.state == "new"
    assert export_row(body, "不动产登记", None)["评价渠道"] == "移动服务端"


def test_body_errors_have_the_error_shape(platform):
    r = platform.post(URL, json={"evaluations": []})
    assert r.status_code == 422 and r.json()["error"] == "invalid_request" and "hall_id" in r.json()["detail"]
