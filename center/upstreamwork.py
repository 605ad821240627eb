"""The push to the provincial 好差评 system, wired (issue 13, DESIGN §14.1):
the outbox table `upstream_outbox`, what queues a message, the forwarder
that sends them, and the status the page and the CLI show. The mapping and
the reading of answers are center/upstream.py's (pure).

Queueing. A message is written in the transaction that stores its cause,
only when `[upstream]` is configured:
- ingest's writer (`center/ingest.py` `_write`: tablets, the integration
  API, the QR page) calls `enqueue_stored` with the rows it stored: an
  evaluation message (评价次数 1) per uploadable record; the others are
  counted in `upstream_skips` by why (unrated, no_case_no, same_key);
- `casework.write_change` calls `enqueue_case_change`: a recorded 整改结果
  queues the case's rectification message, a 二次评价 its evaluation
  message 评价次数 2 (and the first evaluation if it was never queued).
The key (kind, 办件编号, 评价次数) is unique: queueing again is a no-op.

Payloads are built when a message is sent, from the stored record, the
case and the directory: a corrected profile (a missing reason code, a
channel) applies to the whole backlog at the next start, and a 整改结果
edited before it went is sent as it stands. `payload` keeps what was sent.

Sending (`forward`, one bounded round; `start` runs rounds on a thread of
its own, so a slow or dead province never delays the deadline and alert
round): due messages are claimed with center/leasing.py `claim_due` (the
one claiming rule across instances), in id order; a message waits while
an earlier message of the same record is unsent (its 整改结果 and 二次评价
go after its evaluation). Each is posted with the settings' timeout and its
answer read by `upstream.classify`: sent, already there (counts as sent),
or retried forever after `Retry.wait(attempts)`. No answer or a 5xx ends the
round (the province is down: the rest of the batch is released untried);
any other failure is the message's own and the round goes on. After a
round in which the province took nothing, the next waits the same capped
backoff (by stalled rounds in a row). Rows stay until sent, also across
restarts; a center killed while holding a batch gets it back when the lease
ends (the province's dedup by 办件编号 and 评价次数 answers the repeat
"评价数据不可重复", which counts as sent).
"""
from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any, Iterable, Mapping, Sequence

import requests
from sqlalchemy import and_, case, exists, func, select

from hallcore.hallclock import from_db, hall_day, hall_zone, in_hall, to_db
from hallcore.record import parse_time

from . import casework, directory_db, upstream
from .db import cases, records, second_evaluations, upstream_outbox, upstream_skips
from . import leasing
from .leasing import Claim, claim_due
from .sqlutil import insert_for
from .upstream import Message, Outcome, Rectification, UpstreamError, UpstreamSettings, message_key

log = logging.getLogger("center.upstream")

SKIP_LABELS = {"unrated": "未评价（不上报）", "no_case_no": "无办件编号", "same_key": "办件编号与评价次数已被另一条记录占用"}
MAX_BODY = 64 * 1024          # of the province's answer read
MAX_ERROR = 1000
FAILING_LISTED = 10


def kind_label(kind: str, evaluation_no: int) -> str:
    if kind == "rectification":
        return "整改结果"
    return "评价" if evaluation_no == 1 else f"第{evaluation_no}次评价"


# ------------------------------------------------------------------ queueing

def _day(rec: Mapping[str, Any]) -> date:
    return hall_day(parse_time(rec.get("voted_at")) or parse_time(rec.get("prompted_at")))


def enqueue_stored(conn, center, stored: Sequence[Mapping[str, Any]], now: datetime) -> int:
    """Queue the evaluation of each record just stored (rows with `id`,
    `window_id`, `day` and `body`, as ingest writes them), in the caller's
    transaction; count the ones that do not go up. Returns how many were queued."""
    if center.cfg.upstream is None or not stored:
        return 0
    queued, skipped = _enqueue_evaluations(conn, [r["body"] for r in stored], now)
    _count_skips(conn, skipped)
    return queued


def _enqueue_evaluations(conn, bodies: Iterable[Mapping[str, Any]], now: datetime
                         ) -> tuple[int, list[tuple[Mapping[str, Any], str]]]:
    """(messages queued, [(record, why)] of the records that do not go up)."""
    skipped: list[tuple[Mapping[str, Any], str]] = []
    first: dict[str, Mapping[str, Any]] = {}
    for rec in bodies:
        why = upstream.uploadable(rec)
        if why is not None:
            skipped.append((rec, why.why))
            continue
        key = message_key("evaluation", rec["case_no"], 1)
        if key in first and first[key]["id"] != rec["id"]:
            skipped.append((rec, "same_key"))
        else:
            first.setdefault(key, rec)
    if not first:
        return 0, skipped
    got = _insert(conn, [_row(key, "evaluation", 1, rec["id"], None, now) for key, rec in first.items()])
    taken = [key for key in first if key not in got]
    if taken:
        holders = dict(conn.execute(select(upstream_outbox.c.message_key, upstream_outbox.c.record_id)
                                    .where(upstream_outbox.c.message_key.in_(taken))).all())
        for key in taken:
            if holders.get(key) not in (None, first[key]["id"]):
                skipped.append((first[key], "same_key"))
    for rec, why in skipped:
        if why == "same_key":
            log.warning("record %s not queued for the province: 办件编号 %s is already queued for another "
                        "record (the province takes one evaluation per 办件编号 and 评价次数)",
                        rec["id"], rec["case_no"])
        elif why == "no_case_no":
            log.warning("record %s not queued for the province: it has no 办件编号", rec["id"])
    return len(got), skipped


def _row(key: str, kind: str, n: int, record_id: str, case_id: int | None, now: datetime) -> dict[str, Any]:
    return dict(message_key=key, kind=kind, evaluation_no=n, record_id=record_id, case_id=case_id,
                attempts=0, next_attempt_at=to_db(now), created_at=to_db(now))


def _insert(conn, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the rows whose key is new (keys in sorted order: concurrent writers lock alike); their keys."""
    rows = sorted(rows, key=lambda r: r["message_key"])
    stmt = (insert_for(conn, upstream_outbox).on_conflict_do_nothing(index_elements=["message_key"])
            .returning(upstream_outbox.c.message_key))
    return set(conn.execute(stmt, rows).scalars())


def _count_skips(conn, skipped: list[tuple[Mapping[str, Any], str]]) -> None:
    if not skipped:
        return
    counts: dict[tuple, list] = {}
    for rec, why in skipped:
        c = counts.setdefault((_day(rec), rec["window_id"], why), [0, rec["id"]])
        c[0] += 1
        c[1] = rec["id"]
    ins = insert_for(conn, upstream_skips)
    stmt = ins.on_conflict_do_update(
        index_elements=["day", "window_id", "why"],
        set_={"count": upstream_skips.c.count + ins.excluded["count"],
              "last_record_id": ins.excluded.last_record_id})
    conn.execute(stmt, [dict(day=k[0], window_id=k[1], why=k[2], count=v[0], last_record_id=v[1])
                        for k, v in sorted(counts.items())])


def enqueue_case_change(conn, center, row, change, now: datetime) -> int:
    """The messages a case change queues (casework.write_change's one call,
    its transaction): a recorded 整改结果 the rectification message, a
    二次评价 the evaluation 评价次数 2; each after the record's first
    evaluation, queued here too if it never was (a record stored before
    [upstream] was configured). A 综合点评 case has no record: nothing goes."""
    if center.cfg.upstream is None or row.record_id is None or row.body is None:
        return 0
    wanted = []
    if "rectified_at" in change.updates:
        wanted.append(("rectification", 1))
    if change.extra.get("second_evaluation"):
        wanted.append(("evaluation", change.extra["second_evaluation"].get("evaluation_no", 2)))
    if not wanted:
        return 0
    rec = row.body
    if upstream.uploadable(rec) is not None:
        return 0
    queued, skipped = _enqueue_evaluations(conn, [rec], now)
    if skipped:          # its 办件编号 went up with another record: its 整改 is not this one's
        return 0
    rows = [_row(message_key(kind, rec["case_no"], n), kind, n, row.record_id, row.id, now) for kind, n in wanted]
    return queued + len(_insert(conn, rows))


def backfill(center, start: date, *, chunk: int = 500) -> dict[str, int]:
    """Queue the stored records of hall days from `start` on that were never
    queued (`hall-center upstream backfill`), and the 整改结果 and 二次评价 of
    their cases; one transaction per chunk. Returns the counts; skipped
    records are counted in the answer, not in upstream_skips (a second
    backfill would count them twice)."""
    if center.cfg.upstream is None:
        raise UpstreamError("[upstream] is not configured: nothing to send to")
    counts = {"records": 0, "queued": 0, "unrated": 0, "no_case_no": 0, "same_key": 0, "case_messages": 0}
    after = ""
    now = center.clock()
    while True:
        with center.engine.begin() as conn:
            page = conn.execute(select(records.c.id, records.c.body).where(
                records.c.day >= start, records.c.id > after).order_by(records.c.id).limit(chunk)).all()
            if not page:
                break
            after = page[-1].id
            queued, skipped = _enqueue_evaluations(conn, [r.body for r in page], now)
            counts["records"] += len(page)
            counts["queued"] += queued
            for _rec, why in skipped:
                counts[why] += 1
            counts["case_messages"] += _backfill_cases(conn, [r.id for r in page], now)
    log.info("upstream backfill from %s: %s", start, counts)
    return counts


def _backfill_cases(conn, record_ids: list[str], now: datetime) -> int:
    rows = []
    for c in conn.execute(select(cases.c.id, cases.c.record_id, cases.c.rectified_at, cases.c.second_evaluated,
                                 records.c.body).join(records, records.c.id == cases.c.record_id)
                          .where(cases.c.record_id.in_(record_ids))):
        if upstream.uploadable(c.body) is not None:
            continue
        if c.rectified_at is not None:
            rows.append(_row(message_key("rectification", c.body["case_no"], 1), "rectification", 1,
                             c.record_id, c.id, now))
        if c.second_evaluated:
            rows.append(_row(message_key("evaluation", c.body["case_no"], 2), "evaluation", 2,
                             c.record_id, c.id, now))
    return len(_insert(conn, rows)) if rows else 0


# ------------------------------------------------------------------ building

@dataclass
class Sources:
    """What the messages of one claimed batch are built from."""
    records: dict[str, Any] = field(default_factory=dict)     # record id -> (body, window_id, department)
    cases: dict[str, Any] = field(default_factory=dict)       # record id -> case row
    seconds: dict[int, Any] = field(default_factory=dict)     # case id -> second_evaluations row
    directory: Any = None


def _sources(conn, rows: Sequence[Any]) -> Sources:
    ids = sorted({r.record_id for r in rows})
    s = Sources(directory=directory_db.load(conn))
    for r in conn.execute(select(records.c.id, records.c.body, records.c.window_id, records.c.department)
                          .where(records.c.id.in_(ids))):
        s.records[r.id] = r
    if any(r.kind == "rectification" or r.evaluation_no > 1 for r in rows):
        for c in conn.execute(select(cases.c.id, cases.c.record_id, cases.c.rectification,
                                     cases.c.rectified_at).where(cases.c.record_id.in_(ids))):
            s.cases[c.record_id] = c
        case_ids = [c.id for c in s.cases.values()]
        for e in conn.execute(select(second_evaluations).where(second_evaluations.c.case_id.in_(case_ids))):
            s.seconds[e.case_id] = e
    return s


def build(row, src: Sources, settings: UpstreamSettings) -> Message:
    """The message of an outbox row as it would go now; UpstreamError if the
    profile cannot map it (it waits, retried, with the error shown)."""
    r = src.records.get(row.record_id)
    if r is None:
        raise UpstreamError(f"record {row.record_id} is not stored")
    profile = settings.profile
    department = casework.window_department(src.directory, r.window_id, r.department)
    if row.kind == "evaluation" and row.evaluation_no == 1:
        msg = upstream.evaluation(r.body, profile, department=department)
    else:
        case = src.cases.get(row.record_id)
        if case is None:
            raise UpstreamError(f"record {row.record_id} has no case")
        if row.kind == "rectification":
            if case.rectified_at is None or not case.rectification:
                raise UpstreamError(f"case {case.id} has no 整改结果")
            msg = upstream.rectification_message(
                r.body, profile, Rectification(case.rectification, from_db(case.rectified_at)),
                evaluation_no=row.evaluation_no)
        else:
            second = src.seconds.get(case.id)
            if second is None or second.evaluation_no != row.evaluation_no:
                raise UpstreamError(f"case {case.id} has no 评价次数 {row.evaluation_no}")
            rec = upstream.second_evaluation_record(r.body, scale=second.scale, rating=second.rating,
                                                    channel=second.channel, at=in_hall(from_db(second.at)))
            msg = upstream.evaluation(rec, profile, department=department, evaluation_no=row.evaluation_no)
    if msg.key != row.message_key:
        raise UpstreamError(f"the record maps to {msg.key}, not to the queued {row.message_key}")
    return msg


# ------------------------------------------------------------------ sending

@dataclass
class Round:
    claimed: int = 0
    sent: int = 0                  # the province took it
    already_sent: int = 0          # the province had it ("评价数据不可重复"): counts as sent
    failed: int = 0                # retried later (the province's answer, or none)
    unmappable: int = 0            # the profile cannot map it yet (retried later)
    released: int = 0              # claimed but not tried: the round ended early
    outage: str | None = None      # the error that ended the round: no answer or a 5xx

    @property
    def stalled(self) -> bool:
        """The province took nothing it was sent: it is down, or refuses everything (a 401)."""
        return self.outage is not None or (self.failed > 0 and self.sent + self.already_sent == 0)


def pending_clause():
    """Unsent, and no earlier message of the same record unsent (its evaluation goes first)."""
    earlier = upstream_outbox.alias("earlier")
    o = upstream_outbox.c
    return and_(o.sent_at.is_(None),
                ~exists().where(earlier.c.record_id == o.record_id, earlier.c.id < o.id,
                                earlier.c.sent_at.is_(None)))


def post(http: requests.Session, settings: UpstreamSettings, msg: Message) -> tuple[Outcome, int | None]:
    """One attempt: (what the answer means, its HTTP status or None)."""
    headers = {"Content-Type": "application/json; charset=utf-8", "Accept": "application/json"}
    if settings.profile.idempotency_header:
        headers[settings.profile.idempotency_header] = msg.key
    body = json.dumps(msg.payload, ensure_ascii=False).encode("utf-8")
    profile = settings.profile
    try:
        with http.post(settings.url_for(msg.kind), data=body, headers=headers, timeout=settings.timeout_s,
                       stream=True, allow_redirects=False) as r:
            answer = r.raw.read(MAX_BODY, decode_content=True)
            return upstream.classify(r.status_code, answer, profile), r.status_code
    except requests.Timeout:
        return upstream.classify(None, None, profile,
                                 transport_error=f"no answer within {settings.timeout_s:g} s"), None
    except (requests.RequestException, OSError) as e:
        return upstream.classify(None, None, profile, transport_error=f"{type(e).__name__}: {e}"), None


def forward(center, *, stop: threading.Event | None = None) -> Round:
    """One round: claim up to `batch` due messages and send them, in order."""
    settings = center.cfg.upstream
    out = Round()
    if settings is None:
        return out
    rows = claim_due(center.engine, upstream_outbox, pending=pending_clause(), now=to_db(center.clock()),
                     lease_s=settings.lease_s, limit=settings.batch)
    out.claimed = len(rows)
    if not rows:
        return out
    with center.engine.connect() as conn:
        src = _sources(conn, rows)
    with requests.Session() as http:
        for i, row in enumerate(rows):
            if (stop is not None and stop.is_set()) or not rows.sendable():
                out.released += _release(center, rows, rows[i:])
                break
            try:
                msg = build(row, src, settings)
            except UpstreamError as e:
                out.unmappable += 1
                _record(center, rows, row, Outcome("retry", f"cannot map: {e}"), None, None, settings,
                        kind="unmappable")
                continue
            outcome, status = post(http, settings, msg)
            _record(center, rows, row, outcome, status, msg.payload, settings)
            if outcome.done:
                out.sent += outcome.kind == "sent"
                out.already_sent += outcome.kind == "already_sent"
                continue
            out.failed += 1
            if status is None or status >= 500:
                out.outage = outcome.error
                out.released += _release(center, rows, rows[i + 1:])
                break
    return out


def _record(center, claim: Claim, row, outcome: Outcome, status: int | None, payload: dict | None,
            settings: UpstreamSettings, kind: str | None = None) -> None:
    now = center.clock()
    step = upstream.after_attempt(outcome, row.attempts, now, settings.retry)
    values: dict[str, Any] = dict(attempts=row.attempts + 1, last_attempt_at=to_db(now),
                                  last_outcome=kind or outcome.kind)
    if payload is not None:
        values["payload"] = payload
    if step.done:
        # the latest failure (last_failed_at, last_status, last_error) stays: the status page's history
        values.update(sent_at=to_db(now), next_attempt_at=to_db(now))
        log.debug("upstream %s %s", row.message_key, outcome.kind)
    else:
        error = (step.last_error or "")[:MAX_ERROR]
        values.update(next_attempt_at=to_db(step.next_attempt_at), last_failed_at=to_db(now),
                      last_status=status, last_error=error)
        log.warning("upstream %s not sent (attempt %d, next in %ds): %s", row.message_key, row.attempts + 1,
                    settings.retry.wait(step.failures), error)
    # only while this claim holds the row: another instance may have claimed
    # (and sent) it after our lease ran out, and its outcome stands
    if not leasing.finish(center.engine, upstream_outbox, claim, row.id, **values):
        log.warning("upstream %s: lease ran out before the outcome (%s) was written; "
                    "the newer claim's outcome stands", row.message_key, outcome.kind)


def _release(center, claim: Claim, rows: Sequence[Any]) -> int:
    """Give claimed, untried rows back: due again now, for any instance."""
    leasing.release(center.engine, upstream_outbox, claim, [r.id for r in rows], now=to_db(center.clock()))
    return len(rows)


def pause_after(r: Round | None, stalled: int, settings: UpstreamSettings) -> float:
    """Seconds before the next round: the capped backoff after the
    `stalled`-th stalled round in a row (no answer, a 5xx, or nothing taken),
    none after a full batch (drain the backlog), else the idle tick."""
    if r is not None and r.stalled:
        return settings.retry.wait(stalled)
    if r is not None and r.claimed >= settings.batch and r.released == 0:
        return 0.0
    return float(settings.tick_s)


def run(center, stop: threading.Event) -> None:
    """Forward until `stop` is set: the forwarder thread's loop."""
    settings = center.cfg.upstream
    stalled = 0
    while not stop.is_set():
        r = None
        try:
            r = forward(center, stop=stop)
        except Exception:  # noqa: BLE001 - keep the forwarder alive, log the cause
            log.exception("upstream round failed; will retry")
        stalled = stalled + 1 if r is not None and r.stalled else 0
        if stalled == 1:
            log.warning("the province took none of %d messages (%s); backing off", r.failed,
                        r.outage or "each was refused")
        stop.wait(pause_after(r, stalled, settings))


def start(center, stop: threading.Event) -> threading.Thread | None:
    """The forwarder on a thread of its own (None when [upstream] is not configured)."""
    if center.cfg.upstream is None:
        return None
    t = threading.Thread(target=run, args=(center, stop), name="upstream-forwarder", daemon=True)
    t.start()
    log.info("forwarding evaluations to %s (profile %s)", center.cfg.upstream.url, center.cfg.upstream.profile.name)
    return t


# ------------------------------------------------------------------ status

@dataclass
class Status:
    configured: bool
    url: str | None
    profile: str | None
    pending: dict[str, int]            # kind label -> unsent messages
    oldest_pending_at: datetime | None
    sent_today: int
    sent_total: int
    already_sent_total: int
    last_sent_at: datetime | None
    last_error: dict[str, Any] | None  # at, status, text, key, resolved
    skipped: dict[str, int]            # why -> records, all time
    skipped_today: dict[str, int]
    failing: list[dict[str, Any]]      # the unsent messages that failed most

    @property
    def backlog(self) -> int:
        return sum(self.pending.values())

    @property
    def failing_now(self) -> bool:
        """A queued message has failed and is still unsent."""
        return bool(self.failing)


def status(conn, now: datetime, settings: UpstreamSettings | None) -> Status:
    o = upstream_outbox.c
    unsent = o.sent_at.is_(None)
    pending = {}
    for kind, n, count in conn.execute(select(o.kind, o.evaluation_no, func.count()).where(unsent)
                                       .group_by(o.kind, o.evaluation_no).order_by(o.kind, o.evaluation_no)):
        label = kind_label(kind, n)
        pending[label] = pending.get(label, 0) + count
    oldest = conn.execute(select(func.min(o.created_at)).where(unsent)).scalar()
    today = hall_day(now)
    start = to_db(datetime.combine(today, time(), hall_zone()))
    sent_today = conn.execute(select(func.count()).where(o.sent_at >= start)).scalar()
    sent_total, already = conn.execute(select(
        func.count(o.sent_at), func.coalesce(func.sum(case((o.last_outcome == "already_sent", 1), else_=0)), 0))
        .where(o.sent_at.is_not(None))).one()
    last_sent = conn.execute(select(func.max(o.sent_at))).scalar()
    err = conn.execute(select(upstream_outbox).where(o.last_failed_at.is_not(None))
                       .order_by(o.last_failed_at.desc(), o.id.desc()).limit(1)).first()
    s = upstream_skips.c
    by_why = select(s.why, func.sum(s.count)).group_by(s.why).order_by(s.why)
    skipped = {why: int(n) for why, n in conn.execute(by_why)}
    skipped_today = {why: int(n) for why, n in conn.execute(by_why.where(s.day == today))}
    failing = [_item(r) for r in conn.execute(
        select(upstream_outbox).where(unsent, o.attempts > 0)
        .order_by(o.attempts.desc(), o.id).limit(FAILING_LISTED))]
    return Status(
        configured=settings is not None, url=settings.url if settings else None,
        profile=settings.profile.name if settings else None, pending=pending,
        oldest_pending_at=from_db(oldest), sent_today=sent_today, sent_total=sent_total,
        already_sent_total=already, last_sent_at=from_db(last_sent),
        last_error=None if err is None else {
            "at": from_db(err.last_failed_at), "status": err.last_status, "text": err.last_error,
            "key": err.message_key, "resolved": err.sent_at is not None},
        skipped=skipped, skipped_today=skipped_today, failing=failing)


def _item(r) -> dict[str, Any]:
    return {"key": r.message_key, "kind": kind_label(r.kind, r.evaluation_no), "record_id": r.record_id,
            "attempts": r.attempts, "last_attempt_at": from_db(r.last_attempt_at),
            "next_attempt_at": from_db(r.next_attempt_at), "status": r.last_status,
            "outcome": r.last_outcome, "error": r.last_error, "created_at": from_db(r.created_at)}


def age_text(since: datetime | None, now: datetime) -> str:
    """How long ago, in Chinese: 3 天 2 小时, 5 分钟, 不到 1 分钟."""
    if since is None:
        return "—"
    s = max(0, int((now - since).total_seconds()))
    d, h, m = s // 86400, s % 86400 // 3600, s % 3600 // 60
    if d:
        return f"{d} 天 {h} 小时"
    if h:
        return f"{h} 小时 {m} 分钟"
    return f"{m} 分钟" if m else "不到 1 分钟"


__all__ = ["Round", "SKIP_LABELS", "Sources", "Status", "age_text", "backfill", "build", "enqueue_case_change",
           "enqueue_stored", "forward", "kind_label", "pause_after", "pending_clause", "post", "run", "start",
           "status"]
