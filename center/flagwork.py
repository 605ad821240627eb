"""Anomaly flags in the database (the rules are center/anomalies.py): the scan
that raises them, and what the flags page (center/web/flags.py) and
`hall-center flags` read and do.

What a scan judges: the period rules (no_bad_reviews, low_participation,
visit_disagreement) judge the last ended block of `period_days` hall days
(anomalies.Period.last_complete); the others (top_burst,
voted_before_finish, phone_many_bad) judge every ended hall day from that
block's first through yesterday. Today is never judged, so a flag's
evidence does not change while the day goes on. The records are read one
hall day at a time by `records.day` (indexed), each day in a transaction of
its own: only the Observed stay in memory, and no lock is held for a scan.

Storing: a flag is inserted once by its key (INSERT … ON CONFLICT DO NOTHING
on the unique key), so scans again and again, or two center instances at
once, raise it once, and a dismissed key is never raised again. Against
the stored flags of the same kind, subject and period:
- evidence within a stored flag's is no news (the same run seen through a
  shorter read, e.g. once the read's first day has moved past its start);
- evidence holding an open flag's and more supersedes it (a run that grew:
  a late upload, a further 差评 with one number). A dismissed flag is not
  superseded: more evidence than was dismissed is a new flag.

Who sees a flag: anomalies.visible_to, on every read here that takes an
actor: supervisors only, never the staff member it concerns.
"""
from __future__ import annotations

import logging
import weakref
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Iterable, Sequence

from sqlalchemy import select, update

from hallcore.hallclock import from_db, hall_day, show, show_seconds, to_db
from hallcore.record import parse_time

from . import directory, directory_db, samplework
from .anomalies import KIND_LABELS, AnomalyError, Flag, Observed, Period, all_flags, observe, visible_to
from .db import anomaly_flags, cases, records
from .sqlutil import insert_for

log = logging.getLogger("center.flags")

CHUNK = 500                  # ids per IN (…): well under SQLite's bound-parameter limit
MAX_NOTE = 1000
MAX_LISTED = 200             # flags on one page of the list (newest first)
EVIDENCE_ON_LIST = 10        # records shown with each flag on the list; the flag's page shows all
MAX_EVIDENCE_SHOWN = 2000
UNUSABLE_LOGGED = 5          # unusable records named in the log per scan (all are counted)
STATE_LABELS = {"open": "待核查", "dismissed": "已排除", "superseded": "已被新标记取代"}


class FlagError(ValueError):
    """A flag request refused; the message is for the supervisor."""


# ------------------------------------------------------------------ the scan

@dataclass
class ScanResult:
    period: Period                   # what the period rules judged
    first_day: date                  # the hall days read
    last_day: date
    records: int = 0                 # records read
    unusable: int = 0                # records the rules cannot use (AnomalyError), logged
    tripped: int = 0                 # flags the rules found
    raised: list[Flag] = field(default_factory=list)   # new ones, stored
    superseded: int = 0              # open flags replaced by one with more evidence

    @property
    def known(self) -> int:
        return self.tripped - len(self.raised)


def judged_days(today: date, period_days: int) -> tuple[Period, date, date]:
    """The block the period rules judge, and the hall days the scan reads."""
    period = Period.last_complete(today, period_days)
    return period, period.first, today - timedelta(days=1)


def scan(center, *, today: date | None = None) -> ScanResult:
    """Run every rule on the judged records and store the new flags."""
    cfg = center.cfg.anomalies
    now = center.clock()
    period, first, last = judged_days(today or hall_day(now), cfg.period_days)
    out = ScanResult(period, first, last)
    observed: list[Observed] = []
    staff_of: dict[str, str] = {}
    day = first
    while day <= last:
        # one short read per hall day: on SQLite every transaction holds the
        # write lock (db._sqlite_write_locks), and ingest must not wait a whole scan
        with center.engine.connect() as conn:
            rows = conn.execute(select(records.c.id, records.c.staff_id, records.c.body)
                                .where(records.c.day == day)).all()
        for row in rows:
            out.records += 1
            if period.first <= day <= period.last:
                staff_of[row.id] = row.staff_id        # unusable ones too: visits name their staff
            try:
                observed.append(observe(row.body))
            except AnomalyError as e:
                out.unusable += 1
                if out.unusable <= UNUSABLE_LOGGED:
                    log.warning("flag scan: record %s left out: %s", row.id, e)
        day += timedelta(days=1)
    with center.engine.connect() as conn:
        visits = samplework.period_visits(conn, period.first, period.last)
    flags = all_flags(observed, period, cfg, visits=visits, staff_of=staff_of)
    out.tripped = len(flags)
    at = {o.record_id: o.at for o in observed}
    with center.engine.begin() as conn:
        for f in flags:
            raised, superseded = _store(conn, f, at, now)
            if raised:
                out.raised.append(f)
            out.superseded += superseded
    if out.unusable:
        log.warning("flag scan: %d of %d records left out as unusable", out.unusable, out.records)
    log.info("flag scan %s..%s (period %s): %d records, %d flags tripped, %d new, %d superseded",
             first, last, period.label, out.records, out.tripped, len(out.raised), out.superseded)
    for f in out.raised:
        log.info("flag raised: %s %s %s (%d records)", f.key, f.kind, f.subject, len(f.evidence))
    return out


def _store(conn, f: Flag, at: dict[str, datetime], now: datetime) -> tuple[bool, int]:
    """Insert `f` unless it is known; (inserted, open flags it superseded)."""
    t = anomaly_flags.c
    same = [t.kind == f.kind, t.subject == f.subject,
            t.period_first.is_(None) if f.period is None else t.period_first == f.period.first]
    stored = conn.execute(select(t.id, t.state, t.evidence).where(*same)).all()
    mine = set(f.evidence)
    if any(mine <= set(r.evidence) for r in stored):
        return False, 0
    times = sorted(at[i] for i in f.evidence if i in at)
    added = conn.execute(insert_for(conn, anomaly_flags).values(
        key=f.key, kind=f.kind, subject=f.subject, window_id=f.window_id,
        staff_ids=sorted(f.staff_ids), summary=f.summary, evidence=list(f.evidence),
        facts=dict(f.facts), period_first=f.period.first if f.period else None,
        period_last=f.period.last if f.period else None,
        first_at=to_db(times[0]) if times else None, last_at=to_db(times[-1]) if times else None,
        raised_at=to_db(now), state="open").on_conflict_do_nothing(index_elements=["key"])
        .returning(anomaly_flags.c.id)).first()      # RETURNING: psycopg's rowcount is -1 here
    if added is None:
        return False, 0                              # another scan stored it first
    older = [r.id for r in stored if r.state == "open" and set(r.evidence) < mine]
    if older:
        conn.execute(update(anomaly_flags).where(t.id.in_(older), t.state == "open")
                     .values(state="superseded", superseded_by=f.key))
    return True, len(older)


_last_scan: "weakref.WeakKeyDictionary[Any, datetime]" = weakref.WeakKeyDictionary()


def scan_when_due(center) -> ScanResult | None:
    """The worker's call each round: a scan every `[anomalies] scan_every_s`
    (0: never), the first one at once. Never raises: a failed scan is logged
    and tried again at the next interval."""
    every = center.cfg.flag_scan_s
    now = center.clock()
    last = _last_scan.get(center)
    if not every or (last is not None and last <= now < last + timedelta(seconds=every)):
        return None
    _last_scan[center] = now
    try:
        return scan(center)
    except Exception:  # noqa: BLE001 - keep the worker alive, log the cause
        log.exception("flag scan failed; will retry in %d s", every)
        return None


# ------------------------------------------------------------------ reading

def flag_of(row) -> Flag:
    """A stored row as the Flag it was (its `key` is the stored key)."""
    period = Period(row.period_first, row.period_last) if row.period_first else None
    return Flag(row.kind, row.subject, tuple(row.evidence), row.summary, frozenset(row.staff_ids),
                row.window_id, period, row.facts or {})


def _visible(rows: Iterable, actor) -> list:
    return [r for r in rows if visible_to(flag_of(r), actor)]


def flag_rows(conn, actor, *, states: Sequence[str] = ("open",), limit: int = MAX_LISTED) -> list:
    """The newest flags in `states` that `actor` may see."""
    t = anomaly_flags.c
    q = (select(anomaly_flags).where(t.state.in_(states))
         .order_by(t.raised_at.desc(), t.id.desc()).limit(limit))
    return _visible(conn.execute(q), actor)


def all_rows(conn, *, states: Sequence[str] = ("open",), limit: int = MAX_LISTED) -> list:
    """For the operator's `hall-center flags list`, who holds the database anyway."""
    t = anomaly_flags.c
    return conn.execute(select(anomaly_flags).where(t.state.in_(states))
                        .order_by(t.raised_at.desc(), t.id.desc()).limit(limit)).all()


def flag_row(conn, flag_id: int, actor):
    """The flag if `actor` may see it, else None (also for a flag that concerns it)."""
    row = conn.execute(select(anomaly_flags).where(anomaly_flags.c.id == flag_id)).first()
    return row if row is not None and visible_to(flag_of(row), actor) else None


def dismiss(center, flag_id: int, actor, note: str) -> None:
    """Dismiss an open flag with the supervisor's note; logged. The key stays
    stored, so the same evidence never raises it again."""
    note = (note or "").strip()
    if not note:
        raise FlagError("请填写排除理由")
    if len(note) > MAX_NOTE:
        raise FlagError(f"排除理由过长（最多 {MAX_NOTE} 字）")
    t = anomaly_flags.c
    with center.engine.begin() as conn:
        row = flag_row(conn, flag_id, actor)
        if row is None:
            raise FlagError("没有这个标记")
        done = conn.execute(update(anomaly_flags).where(t.id == flag_id, t.state == "open").values(
            state="dismissed", dismissed_by=actor.name, dismissed_at=to_db(center.clock()),
            note=note)).rowcount
    if not done:
        raise FlagError(f"此标记{STATE_LABELS.get(row.state, row.state)}，不能再排除")
    log.info("flag %d %s (%s %s) dismissed by %s: %s", flag_id, row.key, row.kind, row.subject,
             actor.name, note)


def evidence(conn, ids: Sequence[str], d: directory.Directory, *, limit: int | None = None,
             kind: str = "") -> list[dict[str, Any]]:
    """The evidence records, earliest first (the first `limit`): what the page
    shows of each. No phone number: a 差评's is on its case page."""
    body = records.c.body
    cols = (records.c.id, records.c.at, records.c.window_id, records.c.staff_id, records.c.staff_name,
            records.c.matter_name, records.c.result, body["ticket"].as_string().label("ticket"),
            body["rating_label"].as_string().label("rating_label"),
            body["finished_at"].as_string().label("finished_at"), cases.c.id.label("case_id"))
    rows = []
    for i in range(0, len(ids), CHUNK):
        q = (select(*cols).select_from(records.outerjoin(cases, cases.c.record_id == records.c.id))
             .where(records.c.id.in_(list(ids[i:i + CHUNK]))).order_by(records.c.at, records.c.id))
        rows.extend(conn.execute(q if limit is None else q.limit(limit)).all())
    rows.sort(key=lambda r: (r.at, r.id))
    rows = rows if limit is None else rows[:limit]
    visits = samplework.visit_results(conn, [r.id for r in rows]) if kind == "visit_disagreement" else {}
    return [dict(id=r.id, at=show_seconds(from_db(r.at)), window=directory.window_label(d, r.window_id),
                 staff=directory.staff_label(d, r.staff_id, r.staff_name), staff_id=r.staff_id,
                 staff_name=r.staff_name, matter=r.matter_name, ticket=r.ticket or "",
                 rating=r.rating_label if r.result == "rated" else "未评价",
                 finished=show_seconds(parse_time(r.finished_at)) if r.finished_at else "",
                 visit=visits.get(r.id, ""), case_id=r.case_id)
            for r in rows]


def subject_label(row, d: directory.Directory, names: dict[str, str]) -> str:
    """What the flag is about, as the page says it: a window, a window's day,
    a staff member, or a call-back number (masked; the subject holds only a digest)."""
    what, _, rest = row.subject.partition(":")
    if what == "window":
        window, _, day = rest.partition(":")
        return f"窗口 {directory.window_label(d, window)}" + (f"（{day}）" if day else "")
    if what == "staff":
        return f"工作人员 {directory.staff_label(d, rest, names.get(rest, ''))}"
    if what == "phone":
        return f"号码 {(row.facts or {}).get('phone_masked') or '（已隐去）'}"
    return row.subject


def when_label(row) -> str:
    """The judged period, or the span of the evidence (hall time)."""
    if row.period_first:
        return f"{row.period_first} 至 {row.period_last}"
    first, last = from_db(row.first_at), from_db(row.last_at)
    if first is None:
        return ""
    if first.date() == last.date():
        return f"{show_seconds(first)} 至 {last.strftime('%H:%M:%S')}" if first != last else show_seconds(first)
    return f"{first.date()} 至 {last.date()}"


def view(conn, row, d: directory.Directory, *, evidence_limit: int | None = EVIDENCE_ON_LIST) -> dict[str, Any]:
    """A flag as the pages show it (`d`: the directory, directory_db.load)."""
    limit = evidence_limit if evidence_limit is not None else MAX_EVIDENCE_SHOWN
    shown = evidence(conn, row.evidence, d, limit=limit, kind=row.kind)
    names = {e["staff_id"]: e["staff_name"] for e in shown}     # a staff flag's evidence is theirs
    newer = None
    if row.superseded_by:
        newer = conn.execute(select(anomaly_flags.c.id).where(anomaly_flags.c.key == row.superseded_by)).scalar()
    return dict(id=row.id, key=row.key, kind=row.kind, label=KIND_LABELS.get(row.kind, row.kind),
                subject=subject_label(row, d, names), when=when_label(row), summary=row.summary,
                raised=show(from_db(row.raised_at)), state=row.state,
                state_label=STATE_LABELS.get(row.state, row.state), count=len(row.evidence),
                evidence=shown, dismissed_by=row.dismissed_by, dismissed=show(from_db(row.dismissed_at)),
                note=row.note, superseded_by=newer)


def views(conn, rows, *, evidence_limit: int | None = EVIDENCE_ON_LIST) -> list[dict[str, Any]]:
    d = directory_db.load(conn)
    return [view(conn, r, d, evidence_limit=evidence_limit) for r in rows]


__all__ = ["EVIDENCE_ON_LIST", "FlagError", "MAX_EVIDENCE_SHOWN", "STATE_LABELS", "ScanResult", "all_rows",
           "dismiss", "evidence", "flag_of", "flag_row", "flag_rows", "judged_days", "scan",
           "scan_when_due", "subject_label", "view", "views", "when_label"]
