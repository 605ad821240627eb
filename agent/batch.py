"""Which pending records go in the next request to the center.

Bad reviews go first and, when any are waiting, alone: a small request is
answered fastest, so a bad review is not stuck behind 500 ordinary records
(issue 6: at the center within 2 s, ahead of any backlog). Otherwise the
oldest records go first. Every batch is bounded by count and by encoded size
so it fits the center's limits (500 records / 2 MiB per request).
"""
from __future__ import annotations

import json
from typing import Any, Iterable, Mapping

from hallcore.record import is_bad_review

MAX_BATCH_RECORDS = 500            # the center's limit per request
MAX_BATCH_BYTES = 2 * 1024 * 1024  # the center's limit per request body
_ENVELOPE_BYTES = 256              # {"device_id": ..., "votes": [...]} around the records


def encoded_size(record: Mapping[str, Any]) -> int:
    """Bytes the record takes in the request body (plus its separating comma)."""
    return len(json.dumps(record, ensure_ascii=False, separators=(",", ":")).encode("utf-8")) + 1


def select_batch(pending: Iterable[Mapping[str, Any]], *, limit: int = MAX_BATCH_RECORDS,
                 max_bytes: int = MAX_BATCH_BYTES) -> list[Mapping[str, Any]]:
    """The next batch from `pending` (given oldest first).

    Bad reviews only if any are pending, else ordinary records; at most
    `limit` records and `max_bytes` encoded. A single record is always
    returned even if it alone is over `max_bytes`, so it is sent and the
    center's answer (not the tablet) decides its fate.
    """
    if limit < 1:
        raise ValueError(f"batch limit must be >= 1, got {limit}")
    records = list(pending)
    bad = [r for r in records if is_bad_review(r)]
    chosen = bad if bad else records
    batch: list[Mapping[str, Any]] = []
    size = _ENVELOPE_BYTES
    for r in chosen:
        if len(batch) >= limit:
            break
        n = encoded_size(r)
        if batch and size + n > max_bytes:
            break
        batch.append(r)
        size += n
    return batch
