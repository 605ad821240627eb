"""Receiving a batch of records from a tablet (DESIGN.md section 4).

Each record is validated by the shared schema (hallcore.record), stored once
by id (ON CONFLICT DO NOTHING: a repeat or a concurrent post of the same id
answers `duplicate`), counted into the daily statistics, and a bad review
opens a case. The whole batch is one transaction; rows are written in id
order so concurrent batches on PostgreSQL cannot deadlock on each other.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Mapping

from sqlalchemy import case as sql_case, update
from sqlalchemy.exc import OperationalError

from hallcore.hallclock import hall_day, to_db
from hallcore.record import is_bad_review, parse_time, validate_record

from . import casework
from .db import daily_stats, devices, records
from .sqlutil import insert_for, is_retryable

MAX_REASON = 1000


@dataclass
class Verdict:
    index: int
    id: Any
    status: str = "rejected"          # stored | duplicate | rejected
    reason: str | None = None
    record: Mapping[str, Any] | None = None

    def answer(self) -> dict[str, Any]:
        out: dict[str, Any] = {"id": self.id, "status": self.status}
        if self.reason:
            out["reason"] = self.reason
        return out


def _shown_id(vote: Any) -> Any:
    """The id to echo back: the record's own id when it has a usable one."""
    if isinstance(vote, Mapping):
        v = vote.get("id")
        if (isinstance(v, (str, int)) and not isinstance(v, bool) and len(str(v)) <= 100
                and not unstorable(v)):
            return v
    return None


def unstorable(value: Any) -> bool:
    """Text no database can store: U+0000 (PostgreSQL) or a lone surrogate
    (not UTF-8). No real record contains either. One json.dumps is much
    faster than walking the record."""
    text = json.dumps(value, ensure_ascii=False)
    if "\\u0000" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def classify(device_id: str, votes: list[Any]) -> list[Verdict]:
    """Pure: which records of a batch are acceptable and why not the others."""
    out = []
    for i, vote in enumerate(votes):
        v = Verdict(i, _shown_id(vote))
        errs = validate_record(vote)
        if errs:
            v.reason = ("invalid record: " + "; ".join(str(e) for e in errs))[:MAX_REASON]
        elif unstorable(vote):
            v.reason = "invalid record: a text field contains U+0000 or a lone surrogate, which cannot be stored"
        elif vote["device_id"] != device_id:
            v.reason = (f"device_id {vote['device_id']!r} differs from the sending device "
                        f"{device_id!r}")
        else:
            v.status, v.record = "accepted", vote
        out.append(v)
    return out


def record_row(rec: Mapping[str, Any], department: str, received_at: datetime) -> dict[str, Any]:
    at = parse_time(rec.get("voted_at")) or parse_time(rec["prompted_at"])
    return {
        "id": rec["id"], "device_id": rec["device_id"], "seq": rec["seq"],
        "region_code": rec["region_code"], "hall_id": rec["hall_id"],
        "window_id": rec["window_id"], "department": department,
        "staff_id": rec["staff_id"], "staff_name": rec["staff_name"],
        "matter_code": rec["matter_code"], "matter_name": rec["matter_name"],
        "result": rec["result"], "satisfaction_code": rec.get("satisfaction_code"),
        "bad": is_bad_review(rec), "day": hall_day(at), "at": to_db(at),
        "received_at": to_db(received_at), "body": dict(rec),
    }


def stats_key(rec: Mapping[str, Any], day, department: str) -> tuple:
    return (day, department, rec["window_id"], rec["staff_id"], rec["staff_name"],
            rec["matter_code"], rec["matter_name"])


STATS_KEY_COLUMNS = ("day", "department", "window_id", "staff_id", "staff_name",
                     "matter_code", "matter_name")
STATS_COUNTS = ("total", "rated", "good", "bad", "excluded")


def add_to_daily_stats(conn, deltas: dict[tuple, dict[str, int]]) -> None:
    """Upsert counters; keys sorted so concurrent writers lock in one order."""
    if not deltas:
        return
    ins = insert_for(conn, daily_stats)
    stmt = ins.on_conflict_do_update(
        index_elements=list(STATS_KEY_COLUMNS),
        set_={c: getattr(daily_stats.c, c) + getattr(ins.excluded, c) for c in STATS_COUNTS})
    conn.execute(stmt, [dict(zip(STATS_KEY_COLUMNS, key), **deltas[key]) for key in sorted(deltas)])


def ingest(center, device_id: str, votes: list[Any]) -> list[dict[str, Any]]:
    """Store a batch from `device_id` (already authenticated); one answer per vote, in order."""
    verdicts = classify(device_id, votes)
    for attempt in range(5):
        try:
            _store(center, device_id, verdicts)
            break
        except OperationalError as e:
            if attempt == 4 or not is_retryable(e):
                raise
            for v in verdicts:
                if v.status in ("stored", "duplicate"):
                    v.status = "accepted"
    return [v.answer() for v in verdicts]


def _store(center, device_id: str, verdicts: list[Verdict]) -> None:
    now = center.clock()
    accepted = sorted((v for v in verdicts if v.status == "accepted"), key=lambda v: v.record["id"])
    rejected = sum(1 for v in verdicts if v.status == "rejected")
    with center.engine.begin() as conn:
        rows = [record_row(v.record, center.cfg.department(v.record["window_id"]), now)
                for v in accepted]
        new_ids: set[str] = set()
        if rows:
            # executemany, batched into multi-row INSERTs by SQLAlchemy; RETURNING names the rows that were new
            # (psycopg reports rowcount -1 for ON CONFLICT inserts)
            new_ids = set(conn.execute(
                insert_for(conn, records).on_conflict_do_nothing(index_elements=["id"])
                .returning(records.c.id), rows).scalars())
        deltas: dict[tuple, dict[str, int]] = {}
        stored = []
        max_seq = 0
        for v, row in zip(accepted, rows):
            rec = v.record
            if rec["id"] in new_ids:
                new_ids.discard(rec["id"])        # a second copy in the same batch is a duplicate
                v.status = "stored"
                stored.append((v, row))
                max_seq = max(max_seq, rec["seq"])
                d = deltas.setdefault(stats_key(rec, row["day"], row["department"]),
                                      dict.fromkeys(STATS_COUNTS, 0))
                d["total"] += 1
                if rec["result"] == "rated":
                    d["rated"] += 1
                    d["bad" if row["bad"] else "good"] += 1
            else:
                v.status = "duplicate"
        for v, row in stored:
            if row["bad"]:
                casework.open_case(conn, center, v.record, row, now)
        add_to_daily_stats(conn, deltas)
        conn.execute(update(devices).where(devices.c.device_id == device_id).values(
            record_count=devices.c.record_count + len(stored),
            rejected_count=devices.c.rejected_count + rejected,
            max_seq=sql_case((devices.c.max_seq < max_seq, max_seq), else_=devices.c.max_seq),
            last_post_at=to_db(now)))
