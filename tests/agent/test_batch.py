"""Choosing the next batch for the center (agent/batch.py)."""
import pytest

from agent.batch import encoded_size, select_batch
from tests.support.outbox_records import vote


def test_bad_reviews_go_alone_ahead_of_an_older_backlog():
    backlog = [dict(vote(i), seq=i) for i in range(1, 301)]
    bad = dict(vote(301, bad=True), seq=301)
    batch = select_batch(backlog + [bad], limit=500)
    assert [r["id"] for r in batch] == [bad["id"]]


def test_ordinary_records_oldest_first_bounded_by_count():
    recs = [dict(vote(i), seq=i) for i in range(1, 21)]
    batch = select_batch(recs, limit=7)
    assert [r["seq"] for r in batch] == list(range(1, 8))


def test_batch_bounded_by_encoded_bytes():
    recs = [dict(vote(i), seq=i) for i in range(1, 51)]
    one = encoded_size(recs[0])
    batch = select_batch(recs, limit=500, max_bytes=256 + one * 10 + 5)
    assert 1 <= len(batch) <= 10
    assert sum(encoded_size(r) for r in batch) + 256 <= 256 + one * 10 + 5


def test_a_single_oversized_record_is_still_sent():
    rec = dict(vote(1), seq=1)
    assert select_batch([rec], max_bytes=10) == [rec]


def test_nothing_pending_gives_an_empty_batch_and_limit_must_be_positive():
    assert select_batch([]) == []
    with pytest.raises(ValueError):
        select_batch([dict(vote(1), seq=1)], limit=0)
