"""Anomaly flags for supervisors (issue 13): patterns that induced, forced or
malicious ratings leave in the records. Each rule is a pure function over
plain data with its thresholds in AnomalyConfig (the center config's
[anomalies] table); each flag carries its evidence (the record ids) and a
stable key, so a dismissed flag is not raised again for the same evidence.

A flag is a reason to look, never a verdict: the supervisor reads the
records and dismisses it with a note or acts. Flags are never shown to the
staff member they concern (`visible_to`).
"""
from __future__ import annotations

import hashlib
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping, Sequence

from hallcore.config import Table
from hallcore.hallclock import hall_day
from hallcore.record import SCALES, is_bad_review, mask_phone, parse_time

from .sampling import Visit, WindowAgreement, compare, window_agreement

KINDS = ("top_burst", "voted_before_finish", "no_bad_reviews", "phone_many_bad",
         "low_participation", "visit_disagreement")
KIND_LABELS = {
    "top_burst": "短时间内连续最高评价",
    "voted_before_finish": "评价时间早于办结时间",
    "no_bad_reviews": "业务量大但长期无差评",
    "phone_many_bad": "同一号码多次差评",
    "low_participation": "参评率明显低于同事",
    "visit_disagreement": "回访结果与评价不一致",
}
# Days are counted in blocks from this Monday, so a 7-day block is a week and
# a block's records, once it has ended, no longer change (stable flag keys).
BLOCK_ANCHOR = date(2000, 1, 3)


class AnomalyError(ValueError):
    """A record or setting the rules cannot use; the message names it."""


@dataclass(frozen=True)
class AnomalyConfig:
    """Thresholds of the rules ([anomalies] in the center config); every bound inclusive."""
    burst_count: int = 5             # (a) ≥ this many visits rated top at one window …
    burst_seconds: int = 120         #     … within this many seconds
    finish_tolerance_s: int = 60     # (b) voted earlier than finished_at minus this (queue system's clock)
    period_days: int = 30            # (c)(e)(f) the block judged
    quiet_min_rated: int = 300       # (c) ≥ this many rated in the block and not one 差评
    phone_min_bad: int = 3           # (d) ≥ this many 差评 visits with one number …
    phone_days: int = 30             #     … within this many days
    participation_min_records: int = 50      # (e) staff with fewer records are not judged (nor peers)
    participation_min_peers: int = 3         #     judged staff needed for a median
    participation_gap: Fraction = Fraction(1, 5)   # flag below median − gap (0.2 = 20 points)
    visit_min_rated: int = 5         # (f) compared return visits needed
    visit_max_disagreement: Fraction = Fraction(1, 5)  # flag when disagreeing share is above this

    @classmethod
    def from_table(cls, t: Table) -> "AnomalyConfig":
        """From the [anomalies] table; ConfigError names the key. Unknown keys are refused."""
        d = cls()
        cfg = cls(
            burst_count=t.int("burst_count", d.burst_count, min=2, max=1000),
            burst_seconds=t.int("burst_seconds", d.burst_seconds, min=1, max=86400),
            finish_tolerance_s=t.int("finish_tolerance_s", d.finish_tolerance_s, min=0, max=86400),
            period_days=t.int("period_days", d.period_days, min=1, max=366),
            quiet_min_rated=t.int("quiet_min_rated", d.quiet_min_rated, min=1),
            phone_min_bad=t.int("phone_min_bad", d.phone_min_bad, min=2, max=1000),
            phone_days=t.int("phone_days", d.phone_days, min=1, max=366),
            participation_min_records=t.int("participation_min_records", d.participation_min_records, min=1),
            participation_min_peers=t.int("participation_min_peers", d.participation_min_peers, min=2),
            participation_gap=_share(t, "participation_gap", d.participation_gap),
            visit_min_rated=t.int("visit_min_rated", d.visit_min_rated, min=1),
            visit_max_disagreement=_share(t, "visit_max_disagreement", d.visit_max_disagreement),
        )
        t.reject_unknown()
        return cfg


def _share(t: Table, name: str, default: Fraction) -> Fraction:
    # read exactly: 0.2 is 1/5, so a rate of exactly 20 % sits on the bound, not beside it
    v = t.float(name, float(default), min=0.0, max=1.0)
    return Fraction(str(v)) if t.has(name) else default


# ------------------------------------------------------------------ inputs

@dataclass(frozen=True)
class Observed:
    """One stored record as the rules read it."""
    record_id: str
    window_id: str
    staff_id: str
    ticket: str
    result: str                      # rated | unrated
    bad: bool                        # a 差评
    top: bool                        # the best level of its scale
    voted_at: datetime | None
    finished_at: datetime | None
    prompted_at: datetime
    contact_phone: str | None = None

    @property
    def at(self) -> datetime:
        """When it happened: the vote, or the prompt of an unrated matter."""
        return self.voted_at or self.prompted_at

    @property
    def visit(self) -> tuple:
        """One citizen at one window: a ticket's matters are rated seconds apart by design."""
        return (hall_day(self.at), self.window_id, self.ticket)


def observe(record: Mapping[str, Any]) -> Observed:
    """An Observed from a record as stored (`records.body`); AnomalyError if unusable."""
    rid = record.get("id")
    prompted = parse_time(record.get("prompted_at"))
    if not isinstance(rid, str) or prompted is None:
        raise AnomalyError(f"record {rid!r}: needs an id and prompted_at with offset")
    rated = record.get("result") == "rated"
    voted = parse_time(record.get("voted_at")) if rated else None
    if rated and voted is None:
        raise AnomalyError(f"record {rid}: a rated record needs voted_at with offset")
    sc = SCALES.get(record.get("scale"))
    top = bool(rated and sc is not None and record.get("rating") == sc.levels[0].name)
    return Observed(
        record_id=rid, window_id=str(record.get("window_id") or ""),
        staff_id=str(record.get("staff_id") or ""), ticket=str(record.get("ticket") or ""),
        result="rated" if rated else "unrated", bad=is_bad_review(record), top=top,
        voted_at=voted, finished_at=parse_time(record.get("finished_at")), prompted_at=prompted,
        contact_phone=record.get("contact_phone") or None)


@dataclass(frozen=True)
class Period:
    """Hall days first..last, both included."""
    first: date
    last: date

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise AnomalyError(f"period {self.first}–{self.last}: the last day is before the first")

    def holds(self, t: datetime) -> bool:
        return self.first <= hall_day(t) <= self.last

    @property
    def label(self) -> str:
        return f"{self.first.isoformat()}–{self.last.isoformat()}"

    @classmethod
    def block(cls, day: date, days: int) -> "Period":
        """The `days`-day block holding `day` (blocks counted from BLOCK_ANCHOR)."""
        if days < 1:
            raise AnomalyError(f"days={days}: expected at least 1")
        first = BLOCK_ANCHOR + timedelta(days=(day - BLOCK_ANCHOR).days // days * days)
        return cls(first, first + timedelta(days=days - 1))

    @classmethod
    def last_complete(cls, today: date, days: int) -> "Period":
        """The latest block that has ended before `today`: what the flags page judges."""
        return cls.block(cls.block(today, days).first - timedelta(days=1), days)


# ------------------------------------------------------------------ flags

@dataclass(frozen=True)
class Flag:
    kind: str                        # one of KINDS
    subject: str                     # "window:03", "staff:1024", "phone:<digest>"
    evidence: tuple[str, ...]        # record ids, sorted
    summary: str                     # what the supervisor reads
    staff_ids: frozenset[str] = frozenset()   # staff it concerns: never shown to them
    window_id: str | None = None
    period: Period | None = None
    facts: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Stable for the same kind, subject, period and evidence (a dismissal is kept by it)."""
        text = "\n".join([self.kind, self.subject, self.period.label if self.period else "",
                          *self.evidence])
        return f"{self.kind}:{hashlib.sha256(text.encode('utf-8')).hexdigest()[:32]}"

    @property
    def label(self) -> str:
        return KIND_LABELS[self.kind]


def _flag(kind: str, subject: str, recs: Sequence[Observed], summary: str, *,
          window_id: str | None = None, period: Period | None = None,
          staff_ids: Iterable[str] = (), **facts: Any) -> Flag:
    return Flag(kind, subject, tuple(sorted({r.record_id for r in recs})), summary,
                frozenset(s for s in staff_ids if s) | frozenset(r.staff_id for r in recs if r.staff_id),
                window_id, period, facts)


def _by(items: Iterable[Observed], key: Callable[[Observed], Any]) -> dict[Any, list[Observed]]:
    out: dict[Any, list[Observed]] = {}
    for r in items:
        out.setdefault(key(r), []).append(r)
    return out


def dense_runs(items: Sequence[Observed], *, min_visits: int, span: timedelta) -> list[list[Observed]]:
    """The runs of `items` in which some `span` (bounds included) holds ≥ `min_visits`
    distinct visits; overlapping runs are one. Items of one visit count once."""
    rows = sorted(items, key=lambda r: (r.at, r.record_id))
    runs: list[list[int]] = []
    seen: Counter = Counter()
    j = 0
    for i in range(len(rows)):             # rows[i:j] is the span starting at rows[i]
        while j < len(rows) and rows[j].at - rows[i].at <= span:
            seen[rows[j].visit] += 1
            j += 1
        if len(seen) >= min_visits:
            if runs and i <= runs[-1][1]:
                runs[-1][1] = j - 1
            else:
                runs.append([i, j - 1])
        seen[rows[i].visit] -= 1
        if not seen[rows[i].visit]:
            del seen[rows[i].visit]
    return [rows[a:b + 1] for a, b in runs]


def top_bursts(records: Iterable[Observed], cfg: AnomalyConfig = AnomalyConfig()) -> list[Flag]:
    """(a) ≥ burst_count visits rated top at one window within burst_seconds."""
    out = []
    for window, recs in sorted(_by((r for r in records if r.top), lambda r: r.window_id).items()):
        for run in dense_runs(recs, min_visits=cfg.burst_count, span=timedelta(seconds=cfg.burst_seconds)):
            visits = len({r.visit for r in run})
            secs = int((run[-1].at - run[0].at).total_seconds())
            out.append(_flag("top_burst", f"window:{window}", run,
                             f"窗口 {window}：{visits} 位群众在 {secs} 秒内均给出最高评价",
                             window_id=window, visits=visits, seconds=secs))
    return out


def voted_before_finish(records: Iterable[Observed], cfg: AnomalyConfig = AnomalyConfig()) -> list[Flag]:
    """(b) ratings earlier than the ticket's finish (by more than finish_tolerance_s),
    one flag per window and hall day."""
    tol = timedelta(seconds=cfg.finish_tolerance_s)
    early = [r for r in records if r.voted_at is not None and r.finished_at is not None
             and r.voted_at < r.finished_at - tol]
    out = []
    for (window, day), recs in sorted(_by(early, lambda r: (r.window_id, hall_day(r.at))).items()):
        worst = max(int((r.finished_at - r.voted_at).total_seconds()) for r in recs)
        out.append(_flag("voted_before_finish", f"window:{window}:{day.isoformat()}", recs,
                         f"窗口 {window} {day.isoformat()}：{len(recs)} 条评价早于办结时间（最多早 {worst} 秒）",
                         window_id=window, day=day.isoformat(), count=len(recs), max_early_s=worst))
    return out


def no_bad_reviews(records: Iterable[Observed], period: Period,
                   cfg: AnomalyConfig = AnomalyConfig()) -> list[Flag]:
    """(c) a window with ≥ quiet_min_rated rated in the period and not one 差评."""
    rated = [r for r in records if r.result == "rated" and period.holds(r.at)]
    out = []
    for window, recs in sorted(_by(rated, lambda r: r.window_id).items()):
        if len(recs) >= cfg.quiet_min_rated and not any(r.bad for r in recs):
            out.append(_flag("no_bad_reviews", f"window:{window}", recs,
                             f"窗口 {window} {period.label}：{len(recs)} 条评价，无一条差评",
                             window_id=window, period=period, rated=len(recs)))
    return out


def phone_digest(phone: str) -> str:
    """A number in a flag's subject without the number itself."""
    return hashlib.sha256(phone.encode("utf-8")).hexdigest()[:16]


def phone_many_bad(records: Iterable[Observed], cfg: AnomalyConfig = AnomalyConfig()) -> list[Flag]:
    """(d) ≥ phone_min_bad 差评 visits left with one call-back number within phone_days."""
    bad = [r for r in records if r.bad and r.contact_phone]
    out = []
    for phone, recs in sorted(_by(bad, lambda r: r.contact_phone).items()):
        for run in dense_runs(recs, min_visits=cfg.phone_min_bad, span=timedelta(days=cfg.phone_days)):
            visits = len({r.visit for r in run})
            windows = sorted({r.window_id for r in run})
            out.append(_flag("phone_many_bad", f"phone:{phone_digest(phone)}", run,
                             f"号码 {mask_phone(phone)}：{cfg.phone_days} 天内 {visits} 次差评"
                             f"（窗口 {'、'.join(windows)}），可能为恶意评价",
                             visits=visits, windows=windows, phone_masked=mask_phone(phone)))
    return out


def low_participation(records: Iterable[Observed], period: Period,
                      cfg: AnomalyConfig = AnomalyConfig()) -> list[Flag]:
    """(e) a staff member whose 参评率 (rated / all) is below the median of the
    judged staff minus participation_gap. Staff with fewer than
    participation_min_records records are neither judged nor peers."""
    mine = _by((r for r in records if r.staff_id and period.holds(r.at)), lambda r: r.staff_id)
    judged = {s: recs for s, recs in mine.items() if len(recs) >= cfg.participation_min_records}
    if len(judged) < cfg.participation_min_peers:
        return []
    rate = {s: Fraction(sum(r.result == "rated" for r in recs), len(recs)) for s, recs in judged.items()}
    median = Fraction(statistics.median(sorted(rate.values())))   # exact: Fractions stay Fractions
    out = []
    for staff in sorted(judged):
        if rate[staff] < median - cfg.participation_gap:
            recs = judged[staff]
            out.append(_flag("low_participation", f"staff:{staff}", recs,
                             f"工作人员 {staff} {period.label}：参评率 {_pct(rate[staff])}，"
                             f"同事中位数 {_pct(median)}（{len(judged)} 人）",
                             period=period, rate=float(rate[staff]), median=float(median), records=len(recs),
                             peers=len(judged)))
    return out


def _pct(x: Fraction) -> str:
    return f"{float(x) * 100:.1f}%"


def disagreeing(w: WindowAgreement, cfg: AnomalyConfig = AnomalyConfig()) -> bool:
    """A window whose return visits disagree with the tablet too often."""
    return w.rated >= cfg.visit_min_rated and Fraction(w.disagree, w.rated) > cfg.visit_max_disagreement


def visit_disagreement(visits: Iterable[Visit], cfg: AnomalyConfig = AnomalyConfig(), *,
                       period: Period | None = None,
                       staff_of: Mapping[str, str] | None = None) -> list[Flag]:
    """(f) windows where the 监督查评 visits disagree (good vs bad) with the tablet
    above visit_max_disagreement, with ≥ visit_min_rated compared visits.

    The numbers are sampling.window_agreement's; the evidence is the records
    whose visit disagreed. `staff_of` (record id → staff id) names the staff
    concerned, when the caller has it.
    """
    visits = list(visits)
    numbers = window_agreement(visits)
    staff_of = staff_of or {}
    out = []
    for window, w in numbers.items():
        if not disagreeing(w, cfg):
            continue
        ids = sorted(v.record_id for v in visits if v.window_id == window and v.reached
                     and v.phone_rating is not None
                     and not compare(v.tablet_scale, v.tablet_rating, v.phone_scale, v.phone_rating).same_class)
        share = Fraction(w.disagree, w.rated)
        out.append(Flag("visit_disagreement", f"window:{window}", tuple(ids),
                        f"窗口 {window}：回访 {w.rated} 次中 {w.disagree} 次与平板评价不一致（{_pct(share)}），"
                        f"其中 {w.induced} 次平板好评、电话差评",
                        frozenset(staff_of[i] for i in ids if staff_of.get(i)), window, period,
                        {"rated": w.rated, "disagree": w.disagree, "induced": w.induced, "share": float(share)}))
    return out


def all_flags(records: Iterable[Observed], period: Period, cfg: AnomalyConfig = AnomalyConfig(), *,
              visits: Iterable[Visit] = (), staff_of: Mapping[str, str] | None = None) -> list[Flag]:
    """Every rule on the same records (the period rules on `period`), by kind then subject."""
    recs = list(records)
    return [*top_bursts(recs, cfg), *voted_before_finish(recs, cfg), *no_bad_reviews(recs, period, cfg),
            *phone_many_bad(recs, cfg), *low_participation(recs, period, cfg),
            *visit_disagreement(visits, cfg, period=period, staff_of=staff_of)]


def open_flags(flags: Iterable[Flag], dismissed: Iterable[str]) -> list[Flag]:
    """The flags not dismissed: a dismissal holds for its key (same evidence)."""
    gone = set(dismissed)
    return [f for f in flags if f.key not in gone]


# ------------------------------------------------------------------ who sees them

def concerns(flag: Flag, actor: Any) -> bool:
    """Is `actor` (center.cases.Actor or anything with `name` and an optional
    `staff_id`) a staff member the flag is about?"""
    ids = {getattr(actor, "name", None), getattr(actor, "staff_id", None)} - {None, ""}
    return bool(ids & flag.staff_ids)


def visible_to(flag: Flag, actor: Any) -> bool:
    """Supervisors only, and never the staff member the flag names."""
    return getattr(actor, "role", None) == "supervisor" and not concerns(flag, actor)


__all__ = ["AnomalyConfig", "AnomalyError", "BLOCK_ANCHOR", "Flag", "KINDS", "KIND_LABELS", "Observed",
           "Period", "all_flags", "concerns", "dense_runs", "disagreeing", "low_participation",
           "no_bad_reviews", "observe", "open_flags", "phone_digest", "phone_many_bad", "top_bursts",
           "visible_to", "visit_disagreement", "voted_before_finish"]
