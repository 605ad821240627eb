"""What the center's answer means for the outbox (agent/answer.py)."""
import json

import pytest

from agent.answer import AUTH, BACKOFF, SEND, SHRINK, STOPPED, Reply, classify

IDS = ["a", "b", "c"]


def ok(results):
    return Reply(200, json.dumps({"results": results}))


def test_stored_and_duplicate_are_acknowledged_rejected_quarantined_with_reason():
    out = classify(ok([{"id": "a", "status": "stored"}, {"id": "b", "status": "duplicate"},
                       {"id": "c", "status": "rejected", "reason": "seq: expected an integer"}]), IDS)
    assert out.action == SEND
    assert out.acknowledge == ("a", "b")
    assert out.quarantine == (("c", "seq: expected an integer"),)
    assert out.counts == {"stored": 1, "duplicate": 1, "rejected": 1}


def test_rejected_without_reason_still_gets_one():
    out = classify(ok([{"id": "a", "status": "rejected"}]), ["a"])
    assert out.quarantine == (("a", "rejected without a reason"),)


@pytest.mark.parametrize("status", [401, 403])
def test_auth_refusal_stops_sending(status):
    out = classify(Reply(status, "{}"), IDS)
    assert out.action == AUTH and not out.acknowledge and str(status) in out.problem


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429, 408, 404, 400, 422, 302])
def test_other_http_errors_back_off_without_acknowledging(status):
    out = classify(Reply(status, json.dumps({"results": [{"id": "a", "status": "stored"}]})), IDS)
    assert out.action == BACKOFF and out.acknowledge == () and out.quarantine == ()


@pytest.mark.parametrize("kind", ["timeout", "refused", "dns", "tls", "connection"])
def test_network_errors_back_off(kind):
    out = classify(Reply(None, error=kind, detail="boom"), IDS)
    assert out.action == BACKOFF and kind in out.problem and not out.acknowledge


def test_too_large_batch_shrinks_but_a_single_record_backs_off():
    assert classify(Reply(413), IDS).action == SHRINK
    assert classify(Reply(413), ["a"]).action == BACKOFF


@pytest.mark.parametrize("body", [
    "", "not json", b"\xff\xfe", "[]", '{"result": []}', '{"results": {}}',
    '{"results": ["a"]}',
    # one sent id not answered
    json.dumps({"results": [{"id": "a", "status": "stored"}, {"id": "b", "status": "stored"}]}),
    # an id that was never sent
    json.dumps({"results": [{"id": x, "status": "stored"} for x in IDS + ["zzz"]]}),
    # unknown status
    json.dumps({"results": [{"id": x, "status": "ok"} for x in IDS]}),
    # id not a string
    json.dumps({"results": [{"id": 1, "status": "stored"}]}),
    # contradicting answers for the same id
    json.dumps({"results": [{"id": x, "status": "stored"} for x in IDS] + [{"id": "a", "status": "rejected"}]}),
])
def test_malformed_200_answer_backs_off_and_acknowledges_nothing(body):
    out = classify(Reply(200, body), IDS)
    assert out.action == BACKOFF
    assert out.acknowledge == () and out.quarantine == ()
    assert "malformed" in out.problem


def test_unusable_token_file_stops_sending_like_an_auth_refusal():
    out = classify(Reply(None, error="token", detail="token file /x missing"), IDS)
    assert out.action == AUTH and "token" in out.problem


def test_a_missed_deadline_backs_off_with_a_smaller_batch_and_a_stop_is_no_failure():
    late = Reply(None, error="deadline", detail="no complete answer within total_timeout (30 s)")
    out = classify(late, IDS)
    assert (out.action, out.halve_batch, out.acknowledge) == (BACKOFF, True, ())
    assert out.problem == "deadline: no complete answer within total_timeout (30 s)"
    assert classify(late, ["a"]).halve_batch is False          # one record cannot be halved
    stopped = classify(Reply(None, error="stopped"), IDS)
    assert (stopped.action, stopped.problem, stopped.acknowledge) == (STOPPED, None, ())
    assert classify(Reply(None, error="too_large", detail="answer over 8 MiB"), IDS).action == BACKOFF
