"""Receiving a batch of records from a tablet (DESIGN.md section 4.4).

Each record is checked, and answered `rejected` with the reason if it fails:
1. `classify` (pure): the shared schema (hallcore.record.validate_record, its
   times against the center's clock and `[center] records_*` bounds), text
   a database can store, the sending device;
2. in the transaction: the device's enrollment (center/enrollment.py).
The accepted ones are stored once by id (ON CONFLICT DO NOTHING RETURNING:
a repeat answers `duplicate`; other content under a stored id is a conflict,
logged, counted and kept in `record_conflicts`), counted into the daily
statistics and the device's seq bookkeeping (distinct seqs; a seq stored
again under another id is logged), and a bad review opens a case.

The batch is one transaction; the device row is locked first and records are
written in id order, so concurrent batches cannot deadlock on each other. The
records are written with a few set-based statements (all rows and the cases
of their bad reviews in one INSERT, on PostgreSQL; the cases' log lines and
alerts, the rollup upsert and the device's counters held and sent together
as one more: sqlutil.together); if that fails for any reason but the
database itself, the transaction is rolled back and the batch written again
one by one, each record in its own savepoint: the one that fails is
`rejected` with an error id that is also in the log, the others are stored.
One record can neither fail nor block a batch.
"""
from __future__ import annotations

import json
import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from collections.abc import Mapping   # not typing's: isinstance on it is direct
from typing import Any

import orjson
from sqlalchemy import BigInteger, DateTime, bindparam, case as sql_case, insert, select, update
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

from hallcore.hallclock import hall_day, to_db
from hallcore.record import is_bad_review, parse_time, validate_record
from hallcore.timebounds import DEFAULT_BOUNDS, TimeBounds

from . import casework, channels, upstreamwork
from .db import cases, daily_stats, device_log, devices, record_conflicts, records
from .enrollment import mismatch, region_for
from .service import enrollment_from, locked_device
from .sqlutil import add_counts, execute_built, insert_new_with_children, is_retryable, together

log = logging.getLogger("center.ingest")

MAX_REASON = 1000
_MISSING = object()


@dataclass
class Verdict:
    index: int
    id: Any
    status: str = "rejected"          # stored | duplicate | rejected
    reason: str | None = None
    record: Mapping[str, Any] | None = None
    text: str | None = None           # an accepted record as JSON, encoded once (it is stored so)

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
    (not UTF-8). No real record contains either."""
    if type(value) is str:
        return "\x00" in value or not _utf8(value)
    return json_text(value) is None


def json_text(value: Any) -> str | None:
    """`value` as the JSON text it is stored as, or None if it is unstorable.
    One orjson.dumps is much faster than walking the record (and than
    json.dumps), and ingest stores this same text."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:       # orjson refuses a lone surrogate, and what no valid record holds (an int over 64 bits)
        text = json.dumps(value, ensure_ascii=False)
        if not _utf8(text):
            return None
    return None if "\\u0000" in text else text


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def classify(device_id: str, votes: list[Any], *, now: datetime | None = None,
             bounds: TimeBounds = DEFAULT_BOUNDS, source: str = "tablet") -> list[Verdict]:
    """Which records of a batch are acceptable and why not the others (pure
    but for the log line of a checker that failed on a record)."""
    out = []
    for i, vote in enumerate(votes):
        try:
            out.append(_check(i, vote, device_id, now, bounds, source))
        except Exception:   # a checker bug must cost this record only (the others are still checked)
            error_id = secrets.token_hex(6)
            log.exception("record %d of a batch from %s could not be checked: error %s", i, device_id, error_id)
            out.append(Verdict(i, None, reason=f"the center could not check this record (error {error_id}, "
                                               f"in the center's log); it was not stored"))
    return out


def _check(i: int, vote: Any, device_id: str, now: datetime | None, bounds: TimeBounds,
           source: str) -> Verdict:
    v = Verdict(i, _shown_id(vote))
    errs = validate_record(vote, now=now, bounds=bounds)
    if errs:
        v.reason = ("invalid record: " + "; ".join(str(e) for e in errs))[:MAX_REASON]
    elif (text := json_text(vote)) is None:
        v.reason = "invalid record: a text field contains U+0000 or a lone surrogate, which cannot be stored"
    elif vote["device_id"] != device_id:
        v.reason = (f"device_id {vote['device_id']!r} differs from the sending device "
                    f"{device_id!r}")
    else:
        try:
            channels.check(source, vote["channel"])
        except channels.ChannelError as e:
            v.reason = f"invalid record: {e}"
            return v
        v.status, v.record, v.text = "accepted", vote, text
    return v


def differing_fields(kept: Mapping[str, Any], other: Mapping[str, Any]) -> list[str]:
    """Pure: the fields in which two copies of one record id differ ([] if the same).

    The whole record is compared: the agent sends each record exactly as the
    outbox stored it, seq included, so a true resend is identical."""
    return sorted(k for k in set(kept) | set(other) if kept.get(k, _MISSING) != other.get(k, _MISSING))


def record_row(rec: Mapping[str, Any], department: str, received_at: datetime) -> dict[str, Any]:
    at = parse_time(rec.get("voted_at")) or parse_time(rec["prompted_at"])
    return {
        "id": rec["id"], "device_id": rec["device_id"], "seq": rec["seq"],
        "region_code": rec["region_code"], "hall_id": rec["hall_id"],
        "window_id": rec["window_id"], "department": department,
        "staff_id": rec["staff_id"], "staff_name": rec["staff_name"],
        "matter_code": rec["matter_code"], "matter_name": rec["matter_name"],
        "result": rec["result"], "satisfaction_code": rec.get("satisfaction_code"),
        "bad": is_bad_review(rec), "channel": rec["channel"], "day": hall_day(at), "at": to_db(at),
        "received_at": _received(received_at), "body": dict(rec),
    }


@lru_cache(maxsize=4)
def _received(at: datetime) -> datetime:
    """to_db of a batch's one receiving time, converted once rather than per record."""
    return to_db(at)


def stats_key(rec: Mapping[str, Any], day, department: str) -> tuple:
    """The record's daily_stats row, in STATS_KEY_COLUMNS order (an unrated
    record's satisfaction code is 0)."""
    return (day, department, rec["window_id"], rec["staff_id"], rec["staff_name"],
            rec["matter_code"], rec["matter_name"], rec["channel"],
            rec.get("satisfaction_code") or 0)


STATS_KEY_COLUMNS = ("day", "department", "window_id", "staff_id", "staff_name",
                     "matter_code", "matter_name", "channel", "satisfaction_code")
STATS_COUNTS = ("total", "rated", "good", "bad", "excluded")


def add_to_daily_stats(conn, deltas: dict[tuple, dict[str, int]]) -> None:
    """Upsert counters in one statement (`total = daily_stats.total +
    excluded.total`: exact under concurrent writers); keys sorted so
    concurrent writers lock in one order."""
    add_counts(conn, daily_stats, [dict(zip(STATS_KEY_COLUMNS, key), **deltas[key]) for key in sorted(deltas)],
               STATS_KEY_COLUMNS, STATS_COUNTS)


def ingest(center, device_id: str, votes: list[Any], token_hash: str | None = None) -> list[dict[str, Any]]:
    """Store a batch from `device_id` (already authenticated); one answer per vote, in order.
    With `token_hash`, the device's row must still hold it (else TokenChanged):
    the token was found in a lookup a few seconds old."""
    return ingest_from(center, TabletSender(device_id, token_hash), votes)


def ingest_from(center, sender, votes: list[Any]) -> list[dict[str, Any]]:
    """Store a batch from an authenticated sender (a tablet, or an integration
    client: center/integration.py); one answer per vote, in order."""
    checked = classify(sender.device_id, votes, now=center.clock(), bounds=center.cfg.record_bounds,
                       source=sender.source)
    one_by_one, retries = False, 0
    verdicts, first = checked, [(v.status, v.reason) for v in checked]
    while True:                 # bounded: one switch to one by one, at most 4 retries
        for v, (status, reason) in zip(verdicts, first):     # a retried transaction starts from the checks
            v.status, v.reason = status, reason
        try:
            _store(center, sender, verdicts, one_by_one)
            return [v.answer() for v in verdicts]
        except BatchFailed:
            one_by_one = True
        except OperationalError as e:
            retries += 1
            if retries == 5 or not is_retryable(e):
                raise


# ------------------------------------------------------------------ writing

@dataclass
class Written:
    """What one write unit did; applied to the verdicts once its savepoint is released."""
    status: dict[int, str] = field(default_factory=dict)      # verdict index -> stored | duplicate
    stored: int = 0
    new_seqs: set[int] = field(default_factory=set)           # seqs the device had not stored before
    max_seq: int = 0
    repeated: list[tuple[str, int]] = field(default_factory=list)   # (id, seq) stored on a seq already taken
    conflicts: list[tuple[str, list[str]]] = field(default_factory=list)   # (id, differing fields)

    def add(self, other: "Written") -> None:
        self.status.update(other.status)
        self.stored += other.stored
        self.new_seqs |= other.new_seqs
        self.max_seq = max(self.max_seq, other.max_seq)
        self.repeated += other.repeated
        self.conflicts += other.conflicts


class BatchFailed(Exception):
    """The write of a whole batch failed for a reason of its records: the
    transaction is rolled back and stored again with each record on its own."""


def record_specific(exc: Exception) -> bool:
    """An error that belongs to the records being written, not to the
    database: the connection, a lock or a deadlock fail the whole batch (the
    agent retries it); anything else is isolated to its record."""
    return not isinstance(exc, (OperationalError, InterfaceError)) \
        and not getattr(exc, "connection_invalidated", False)


_ENROLLED = (devices.c.device_id, devices.c.hall_id, devices.c.window_id, devices.c.region_code,
             devices.c.max_seq, devices.c.token_hash)   # what a batch needs of the device's row (not its last heartbeat)


class TokenChanged(Exception):
    """The device's token is no longer the one presented (rotated, or the
    device gone, since the lookup): nothing is stored, the request is 401."""


class TabletSender:
    """An enrolled tablet: its records must match its enrollment; its row
    keeps the seq bookkeeping."""
    source = "tablet"

    def __init__(self, device_id: str, token_hash: str | None = None):
        self.device_id, self.token_hash = device_id, token_hash

    def check(self, conn, center, verdicts: list[Verdict]) -> None:
        """Lock the device's row and reject the accepted records not from its enrollment."""
        device_id = self.device_id
        device = locked_device(conn, device_id, *_ENROLLED)   # one batch of a device at a time: exact seq counts
        if self.token_hash is not None and (device is None or device.token_hash != self.token_hash):
            raise TokenChanged(device_id)
        if device is None:
            raise RuntimeError(f"device {device_id!r} authenticated but not enrolled")
        self.enrollment = enrollment = enrollment_from(device)
        self.max_seq = device.max_seq
        accepted = [v for v in verdicts if v.status == "accepted"]
        region = region_for(enrollment, center.cfg.region_code)
        self.learned = region is None and bool(accepted)
        if self.learned:
            region = accepted[0].record["region_code"]
        self.region = region
        for v in accepted:
            why = mismatch(v.record, enrollment, region)
            if why:
                v.status, v.reason = "rejected", why

    def account(self, conn, w: "Written", rejected: int, now: datetime) -> None:
        device_id, enrollment, region = self.device_id, self.enrollment, self.region
        if self.learned and w.stored:
            conn.execute(update(devices).where(devices.c.device_id == device_id).values(region_code=region))
            conn.execute(insert(device_log).values(
                device_id=device_id, at=to_db(now), action="region", previous=enrollment.as_json(),
                enrollment=dict(enrollment.as_json(), region_code=region)))
            log.info("device %s enrolled without a region: took %s from its first stored record",
                     device_id, region)
        execute_built(conn, _COUNT_BATCH, {"d_id": device_id, "d_stored": w.stored, "d_new_seqs": len(w.new_seqs),
                                    "d_conflicts": len(w.conflicts), "d_rejected": rejected,
                                    "d_max_seq": w.max_seq, "d_at": to_db(now)})


def _counted(column, name: str):
    return column + bindparam(name, type_=BigInteger)


# A tablet's batch in its device row's counters: built once (it runs for every batch).
_d = devices.c
_COUNT_BATCH = update(devices).where(_d.device_id == bindparam("d_id")).values(
    record_count=_counted(_d.record_count, "d_stored"), seq_count=_counted(_d.seq_count, "d_new_seqs"),
    conflict_count=_counted(_d.conflict_count, "d_conflicts"),
    rejected_count=_counted(_d.rejected_count, "d_rejected"),
    max_seq=sql_case((_d.max_seq < bindparam("d_max_seq", type_=BigInteger),
                      bindparam("d_max_seq", type_=BigInteger)), else_=_d.max_seq),
    last_post_at=bindparam("d_at", type_=DateTime))


def _store(center, sender, verdicts: list[Verdict], one_by_one: bool) -> None:
    now = center.clock()
    device_id = sender.device_id
    with center.engine.begin() as conn:
        # a batch's trailing writes sent as one statement (sqlutil.together): an error of its
        # records that shows only there fails the batch, which is then stored one by one
        try:
            with together(conn, enabled=not one_by_one):
                sender.check(conn, center, verdicts)
                accepted = sorted((v for v in verdicts if v.status == "accepted"), key=lambda v: v.record["id"])
                seqs = {v.record["seq"] for v in accepted}
                # an agent sends in seq order: a batch above every seq stored needs no lookup
                known = _stored_seqs(conn, device_id, seqs) if seqs and min(seqs) <= sender.max_seq else set()
                w = _write_isolated(conn, center, device_id, accepted, now, known, one_by_one)
                sender.account(conn, w, sum(1 for v in verdicts if v.status == "rejected"), now)
        except DBAPIError as e:
            if one_by_one or not record_specific(e):
                raise
            log.warning("a batch of records from %s failed (%r); storing them one by one", device_id, e)
            raise BatchFailed() from e
        for v in accepted:
            if v.index in w.status:
                v.status = w.status[v.index]
        _log_findings(device_id, w)


def _stored_seqs(conn, device_id: str, seqs: set[int]) -> set[int]:
    if not seqs:
        return set()
    return set(conn.execute(select(records.c.seq).distinct().where(
        records.c.device_id == device_id, records.c.seq.in_(sorted(seqs)))).scalars())


def _write_isolated(conn, center, device_id: str, accepted: list[Verdict], now: datetime,
                    known: set[int], one_by_one: bool) -> Written:
    """All of `accepted` in one write (no savepoint: two round trips less);
    if that fails for a reason of its records, BatchFailed, and the caller's
    next transaction (`one_by_one`) writes each in its own savepoint."""
    if not accepted:
        return Written()
    if not one_by_one:
        try:
            return _write(conn, center, device_id, accepted, now, known)
        except Exception as e:
            if not record_specific(e):
                raise
            log.warning("a batch of %d records from %s failed (%r); storing them one by one",
                        len(accepted), device_id, e)
            raise BatchFailed() from e
    total = Written()
    for v in accepted:
        try:
            with conn.begin_nested():
                w = _write(conn, center, device_id, [v], now, known | total.new_seqs)
        except Exception as e:
            if not record_specific(e):
                raise
            error_id = secrets.token_hex(6)
            log.exception("record %s (seq %s) from %s could not be stored: error %s; answered rejected",
                          v.record.get("id"), v.record.get("seq"), device_id, error_id)
            v.status = "rejected"
            v.reason = (f"the center could not store this record (error {error_id}, in the center's log); "
                        f"it was not stored")
            continue
        total.add(w)
    return total


def _write(conn, center, device_id: str, items: list[Verdict], now: datetime, known: set[int]) -> Written:
    """Store `items` (valid, enrolled, sorted by id); raises on any failure."""
    rows = [record_row(v.record, center.cfg.department(v.record["window_id"]), now) for v in items]
    # one INSERT … ON CONFLICT (id) DO NOTHING RETURNING id: the ids it names are the new rows;
    # the body is the JSON text the storability check made (a record checked elsewhere, the QR
    # page's, has none: its row's body is encoded)
    texts = [v.text for v in items]
    # the cases of the bad reviews among them go in with them (one statement on PostgreSQL), for
    # the records stored now: made for each id's first copy, the one stored if it is new
    first: dict[str, tuple] = {}
    for v, row in zip(items, rows):
        first.setdefault(v.record["id"], (v.record, row))
    bad = casework.record_cases(center, [item for item in first.values() if item[1]["bad"]], now)
    new_ids, case_ids = insert_new_with_children(
        conn, records, rows, "id", cases, [values for values, _ in bad], "record_id",
        encoded={"body": texts} if None not in texts else None)
    new_ids = set(new_ids)
    w = Written()
    seen = set(known)
    deltas: dict[tuple, dict[str, int]] = {}
    stored, repeats = [], []
    for v, row in zip(items, rows):
        rec = v.record
        if rec["id"] not in new_ids:
            w.status[v.index] = "duplicate"
            repeats.append(v)
            continue
        new_ids.discard(rec["id"])        # a second copy in the same batch is a duplicate
        w.status[v.index] = "stored"
        w.stored += 1
        stored.append((v, row))
        w.max_seq = max(w.max_seq, rec["seq"])
        if rec["seq"] in seen:
            w.repeated.append((rec["id"], rec["seq"]))
        else:
            seen.add(rec["seq"])
            w.new_seqs.add(rec["seq"])
        d = deltas.setdefault(stats_key(rec, row["day"], row["department"]), dict.fromkeys(STATS_COUNTS, 0))
        d["total"] += 1
        if rec["result"] == "rated":
            d["rated"] += 1
            d["bad" if row["bad"] else "good"] += 1
    if repeats:
        w.conflicts = _conflicts(conn, device_id, repeats, now)
    opened = [(values, payload) for values, payload in bad if values["record_id"] in case_ids]
    casework.cases_opened(conn, center, opened, [case_ids[values["record_id"]] for values, _ in opened], now)
    upstreamwork.enqueue_stored(conn, center, [row for _, row in stored], now)   # the provincial push
    add_to_daily_stats(conn, deltas)
    return w


def _conflicts(conn, device_id: str, repeats: list[Verdict], now: datetime) -> list[tuple[str, list[str]]]:
    """Keep every copy of a stored id whose content differs from the stored one."""
    ids = sorted({v.record["id"] for v in repeats})
    kept = dict(conn.execute(select(records.c.id, records.c.body).where(records.c.id.in_(ids))).all())
    found, rows = [], []
    for v in repeats:
        first = kept.get(v.record["id"])
        fields = differing_fields(first, v.record) if first is not None else []
        if fields:
            found.append((v.record["id"], fields))
            rows.append(dict(record_id=v.record["id"], device_id=device_id, received_at=to_db(now),
                             fields=fields, body=dict(v.record)))
    if rows:
        conn.execute(insert(record_conflicts), rows)
    return found


def _log_findings(device_id: str, w: Written) -> None:
    for rid, fields in w.conflicts:
        log.warning("record %s sent again by %s with other content (%s): answered duplicate, the first "
                    "copy is kept, the other is in record_conflicts", rid, device_id, ", ".join(fields))
    for rid, seq in w.repeated:
        log.warning("device %s stored seq %d again under another id (%s): its outbox numbered two "
                    "records alike", device_id, seq, rid)
