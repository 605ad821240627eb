"""What the center's answer to a batch means for the outbox (DESIGN.md section 4).

Pure: takes what came back (or the network error) and the ids that were
sent, returns what to do. The rule that protects the records: an id leaves
the outbox only on an explicit, well-formed `stored` or `duplicate` for it.
Anything unexpected is retried, never acknowledged; retrying is safe because
the center stores each id once.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

SEND = "send"          # answered: acknowledge / quarantine, carry on
BACKOFF = "backoff"    # center unreachable or misbehaving: wait, retry the same records
AUTH = "auth"          # 401/403: stop sending, raise an alert
SHRINK = "shrink"      # 413: the batch was too big, retry with a smaller one
STOPPED = "stopped"    # the agent is stopping and cut the request: nothing happened, nothing failed

NETWORK_ERRORS = ("timeout", "deadline", "refused", "dns", "tls", "connection", "too_large")
# "deadline": no complete answer within [center] total_timeout (e.g. a trickling center)
# "too_large": the answer was longer than any answer to a batch can be, so it was not read
# "token": the token file is missing, empty or not a regular file, treated like a 401 (stop, alert)
# "stopped": the agent cut its own request because it is stopping


@dataclass(frozen=True)
class Reply:
    """What the sender got: an HTTP status and body, or a network error kind."""
    status: int | None
    body: bytes | str | None = None
    error: str | None = None       # one of NETWORK_ERRORS when status is None
    detail: str = ""               # the exception text, for the log


@dataclass(frozen=True)
class Outcome:
    action: str
    acknowledge: tuple[str, ...] = ()
    quarantine: tuple[tuple[str, str], ...] = ()   # (id, the center's reason)
    problem: str | None = None                     # for last_error and the log
    counts: dict[str, int] = field(default_factory=dict)
    halve_batch: bool = False                      # a smaller request may get through in time


def _malformed(why: str) -> Outcome:
    return Outcome(BACKOFF, problem=f"malformed answer from the center: {why}")


def classify(reply: Reply, sent_ids: Sequence[str]) -> Outcome:
    """Decide what the reply to a batch of `sent_ids` means."""
    if reply.status is None and reply.error == "token":
        return Outcome(AUTH, problem=f"device token unusable: {reply.detail}")
    if reply.status is None and reply.error == "stopped":
        return Outcome(STOPPED)
    if reply.status is None and reply.error == "deadline":
        # a slow link can make a big batch miss the deadline every time; a smaller one fits
        return Outcome(BACKOFF, problem=f"deadline: {reply.detail}", halve_batch=len(sent_ids) > 1)
    if reply.status is None:
        kind = reply.error or "connection"
        return Outcome(BACKOFF, problem=f"{kind}: {reply.detail}".rstrip(": "))
    status = reply.status
    if status in (401, 403):
        return Outcome(AUTH, problem=f"HTTP {status}: the center refuses this device's token")
    if status == 413:
        if len(sent_ids) > 1:
            return Outcome(SHRINK, problem="HTTP 413: batch too large for the center")
        return Outcome(BACKOFF, problem="HTTP 413 for a single record: check the center's size limit")
    if status != 200:
        return Outcome(BACKOFF, problem=f"HTTP {status} from the center")
    return _classify_results(reply.body, sent_ids)


def _classify_results(body: Any, sent_ids: Sequence[str]) -> Outcome:
    try:
        data = json.loads(body) if isinstance(body, (bytes, str)) else None
    except (ValueError, UnicodeDecodeError):
        return _malformed("not JSON")
    if not isinstance(data, dict) or not isinstance(data.get("results"), list):
        return _malformed('no "results" list')
    expected = set(sent_ids)
    seen: dict[str, tuple[str, str]] = {}
    for item in data["results"]:
        if not isinstance(item, dict):
            return _malformed(f"result entry {item!r} is not an object")
        rid, st = item.get("id"), item.get("status")
        if not isinstance(rid, str) or rid not in expected:
            return _malformed(f"answer for id {rid!r} that was not sent")
        if st not in ("stored", "duplicate", "rejected"):
            return _malformed(f"unknown status {st!r} for {rid}")
        reason = item.get("reason")
        if st == "rejected":
            reason = reason if isinstance(reason, str) and reason.strip() else "rejected without a reason"
        if rid in seen and seen[rid][0] != st:
            return _malformed(f"two different answers for {rid}")
        seen[rid] = (st, reason or "")
    missing = expected - set(seen)
    if missing:
        return _malformed(f"{len(missing)} sent record(s) not answered")
    ack = tuple(rid for rid in sent_ids if seen[rid][0] in ("stored", "duplicate"))
    quarantine = tuple((rid, seen[rid][1]) for rid in sent_ids if seen[rid][0] == "rejected")
    counts = {s: sum(1 for v in seen.values() if v[0] == s) for s in ("stored", "duplicate", "rejected")}
    return Outcome(SEND, acknowledge=ack, quarantine=quarantine, counts=counts)
