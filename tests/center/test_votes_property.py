"""Property (issue 11): whatever JSON value lands in any field of one record
of a batch, POST /api/v1/votes answers 200 with one verdict per record, the
valid records of the batch are stored, and nothing is a 5xx. Hypothesis
drives the real app (TestClient) on SQLite and on PostgreSQL."""
import itertools
import json
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings, strategies as st
from sqlalchemy import select

from center.db import records
from hallcore.record import FIELDS
from tests.support.center import make_vote

EDGE_TEXT = ["", " ", "\u0000", "\ud800", "A" * 201, "９９", "8E1F0C2A-5B7D-4C1E-9F3A-0D2B6C4E8A10",
             "NaN", "null", "<script>", "=1+1", "satisfied", "dissatisfied", "rated", "unrated",
             "hall_tablet", "430922", "tab-03", "taojiang", "03"]
FAR_TIMES = ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59+00:00",
             "0001-01-01T00:00:00-00:01", "1990-03-01T10:00:00+08:00", "1970-01-01T00:00:00+00:00",
             "2019-11-30T23:59:59+08:00", "4000-01-01T00:00:00+08:00", "2026-11-27T15:00:00",
             "2026-11-27T15:00:00+08:00", "2026-11-29T15:00:00+08:00", "2026-11-27 15:00:00+08:00"]
EDGE_INTS = [0, -1, 1, 2, 3, 4, 5, 50, 51, 2 ** 31, 2 ** 53, 2 ** 53 + 1, 2 ** 63 - 1, 2 ** 63, 2 ** 64,
             -(2 ** 63) - 1, 10 ** 30]
offsets = st.integers(min_value=-1439, max_value=1439).map(lambda m: timezone(timedelta(minutes=m)))
any_time = st.builds(lambda t, tz: t.replace(tzinfo=tz).isoformat(),
                     st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31)), offsets)
leaf = st.one_of(st.sampled_from(EDGE_TEXT + EDGE_INTS + FAR_TIMES + [0.5, 1e308, -0.0, True, False, None]),
                 any_time, st.none() | st.booleans(), st.integers(),
                 st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=40))
# st.recursive alone yields a list or a dict nine times in ten: plain values come first here
json_value = leaf | st.recursive(leaf, lambda inner: st.lists(inner, max_size=4)
                                 | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=10)
# Any JSON value in any field; the edges of a field's own type (far times in a time field, huge
# numbers in a number field) are drawn as often, so the probes that broke the center recur.
TIME_FIELDS = ("called_at", "finished_at", "prompted_at", "voted_at", "due_at")
INT_FIELDS = ("schema", "seq", "matter_index", "matter_count", "scale", "satisfaction_code")
field_value = {f: json_value | (st.sampled_from(FAR_TIMES) | any_time if f in TIME_FIELDS
                                else st.sampled_from(EDGE_INTS) | st.integers() if f in INT_FIELDS
                                else st.sampled_from(EDGE_TEXT) | st.text(max_size=300))
               for f in FIELDS}


SEQS = itertools.count(1)


# The fixtures live across examples on purpose: each example sends new ids.
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_value_in_any_field_of_one_record_never_breaks_the_batch(api_center, tablet_api, data):
    # one odd record per field, each with its field replaced by a drawn JSON value; one with a field
    # gone, one with an unknown field, one that is no record at all; two valid records among them
    values = data.draw(st.fixed_dictionaries(field_value), label="values")
    odd = []
    for f in FIELDS:
        rec = make_vote("tab-03", next(SEQS), bad=data.draw(st.booleans()))
        rec[f] = values[f]
        odd.append(rec)
    gone = make_vote("tab-03", next(SEQS), bad=True)
    del gone[data.draw(st.sampled_from(FIELDS), label="dropped")]
    unknown = dict(make_vote("tab-03", next(SEQS)),
                   **{data.draw(st.text(min_size=1, max_size=12).filter(lambda k: k not in FIELDS)):
                      data.draw(json_value)})
    odd += [gone, unknown, data.draw(json_value, label="instead of a record")]
    valid = [make_vote("tab-03", next(SEQS), bad=b) for b in (True, False)]
    batch = list(odd)
    for v in valid:
        batch.insert(data.draw(st.integers(min_value=0, max_value=len(batch))), v)
    # serialized here (ASCII escapes) so lone surrogates and U+0000 reach the server as JSON allows
    r = tablet_api.post("/api/v1/votes", content=json.dumps({"device_id": "tab-03", "votes": batch}).encode(),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == len(batch)
    for vote, answer in zip(batch, results):
        if any(vote is v for v in valid):
            assert answer == {"id": vote["id"], "status": "stored"}
        else:
            assert answer["status"] in ("stored", "rejected"), answer
            assert answer["status"] == "stored" or isinstance(answer.get("reason"), str)
    with api_center.engine.connect() as conn:
        kept = {r.id: r.body for r in conn.execute(select(records.c.id, records.c.body).where(
            records.c.id.in_([v["id"] for v in valid])))}
    assert kept == {v["id"]: v for v in valid}
