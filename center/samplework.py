"""监督查评 in the database: drawing and storing a sample of evaluated
records (rules in center/sampling.py), repeating a draw for audit, the call
list, the return visits and the agreement per window.

The population of a draw is every rated record of the period (good and bad,
hall days, `records.day`), optionally of one window. A return visit is a
check of the tablet's rating, written on channel 电话 (`phone`, the
`return_visit` source of center/channels.py); it is not a record and never
enters the 好评率 / 差评率, which stay the tablets'.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Iterable

from sqlalchemy import func, insert, select

from hallcore.hallclock import from_db, show, to_db
from hallcore.record import SCALES, parse_time

from . import channels, stats
from .cases import Actor
from .db import records, return_visits, sample_items, samples
from .directory import Directory
from .sampling import (
    MAX_SEED, Agreement, Draw, Evaluated, SamplingError, Visit, WindowAgreement, agreement_by,
    agreement_total, as_share,
    check_visit, compare, draw, new_seed, unconfirmed_good, window_agreement,
)

log = logging.getLogger("center.sampling")

MAX_PERIOD_DAYS = 366
MAX_SAMPLES_LISTED = 100
VISIT_CHANNEL = channels.check("return_visit", "phone")


# ------------------------------------------------------------------ the draw

def _check_period(start: date, end: date) -> None:
    if start > end:
        raise SamplingError(f"开始日期 {start} 晚于结束日期 {end}")
    if (end - start).days >= MAX_PERIOD_DAYS:
        raise SamplingError(f"抽样时段最长 {MAX_PERIOD_DAYS} 天")


def evaluated(conn, start: date, end: date, window_id: str | None = None) -> list[Evaluated]:
    """Every rated record of hall days start..end (of one window if given)."""
    body = records.c.body
    q = (select(records.c.id, records.c.window_id, body["scale"].as_integer(),
                body["rating"].as_string())
         .where(records.c.result == "rated", records.c.day >= start, records.c.day <= end))
    if window_id is not None:
        q = q.where(records.c.window_id == window_id)
    return [Evaluated(w, rid, scale, rating) for rid, w, scale, rating in conn.execute(q)]


def _redraw(conn, s) -> Draw:
    """The draw a stored sample's parameters give over today's records."""
    items = evaluated(conn, s.period_start, s.period_end, s.window_id)
    return draw(items, seed=int(s.seed), share=s.share, min_per_window=s.min_per_window)


def make_draw(center, *, start: date, end: date, drawn_by: str, share: str | float | None = None,
              seed: int | None = None, window_id: str | None = None) -> int:
    """Draw, store and log a sample; its id. SamplingError (nothing stored)
    for a bad share, seed or period, or a period without evaluated records."""
    _check_period(start, end)
    share_text = str(center.cfg.supervision.share if share is None else share).strip()
    try:
        as_share(share_text)
    except SamplingError:
        raise SamplingError(f"抽样比例 {share_text!r} 无效：应为大于 0、不超过 1 的数，如 0.05（5%）") from None
    if seed is None:
        seed = new_seed()
    elif isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise SamplingError(f"随机种子 {seed!r} 无效：应为 0 至 {MAX_SEED} 的整数")
    window_id = (window_id or "").strip() or None
    now = center.clock()
    with center.engine.begin() as conn:
        items = evaluated(conn, start, end, window_id)
        if not items:
            where = f"窗口 {window_id} " if window_id else ""
            raise SamplingError(f"{start} 至 {end} {where}没有已评价的办件，无法抽样")
        d = draw(items, seed=seed, share=share_text,
                 min_per_window=center.cfg.supervision.min_per_window)
        sample_id = conn.execute(insert(samples).returning(samples.c.id), dict(
            period_start=start, period_end=end, window_id=window_id, share=share_text,
            min_per_window=d.min_per_window, seed=seed, population=sum(d.population.values()),
            population_by_window=d.population, drawn_by=drawn_by, drawn_at=to_db(now))).scalar_one()
        chosen = d.call_list()
        conn.execute(insert(sample_items), [dict(sample_id=sample_id, record_id=e.record_id,
                                                 window_id=e.window_id) for e in chosen])
    log.info("sample %d drawn by %s: %s..%s%s share %s seed %d: %d of %d evaluated records",
             sample_id, drawn_by, start, end, f" window {window_id}" if window_id else "",
             share_text, seed, len(chosen), sum(d.population.values()))
    return sample_id


def sample(conn, sample_id: int):
    return conn.execute(select(samples).where(samples.c.id == sample_id)).first()


def sample_list(conn):
    """The newest draws with their item and visited counts."""
    n_items = (select(func.count()).select_from(sample_items)
               .where(sample_items.c.sample_id == samples.c.id).scalar_subquery())
    n_visited = (select(func.count(func.distinct(return_visits.c.item_id)))
                 .select_from(return_visits.join(sample_items,
                                                 sample_items.c.id == return_visits.c.item_id))
                 .where(sample_items.c.sample_id == samples.c.id).scalar_subquery())
    q = (select(samples, n_items.label("items"), n_visited.label("visited"))
         .order_by(samples.c.id.desc()).limit(MAX_SAMPLES_LISTED))
    return conn.execute(q).all()


@dataclass
class Audit:
    """A stored draw against the same draw redone today."""
    sample_id: int
    seed: int
    stored: int                                   # items stored
    missing: list[str] = field(default_factory=list)    # stored, not drawn again
    added: list[str] = field(default_factory=list)      # drawn again, not stored
    population_then: dict[str, int] = field(default_factory=dict)
    population_now: dict[str, int] = field(default_factory=dict)

    @property
    def same(self) -> bool:
        return not self.missing and not self.added

    @property
    def changed_windows(self) -> dict[str, tuple[int, int]]:
        """Windows whose evaluated records changed since the draw: (then, now)."""
        keys = sorted(set(self.population_then) | set(self.population_now))
        return {w: (self.population_then.get(w, 0), self.population_now.get(w, 0)) for w in keys
                if self.population_then.get(w, 0) != self.population_now.get(w, 0)}


def repeat(center, sample_id: int) -> Audit:
    """Redo a stored draw with its seed, share and period; KeyError if there is none."""
    with center.engine.connect() as conn:
        s = sample(conn, sample_id)
        if s is None:
            raise KeyError(sample_id)
        stored = set(conn.execute(select(sample_items.c.record_id)
                                  .where(sample_items.c.sample_id == sample_id)).scalars())
        d = _redraw(conn, s)
    now = {e.record_id for e in d.call_list()}
    audit = Audit(sample_id, int(s.seed), len(stored), sorted(stored - now), sorted(now - stored),
                  dict(s.population_by_window), d.population)
    log.info("sample %d repeated with seed %d: %s", sample_id, audit.seed,
             "same items" if audit.same else
             f"{len(audit.missing)} missing, {len(audit.added)} added")
    return audit


# ------------------------------------------------------------------ the call list

def _label(scale: int | None, rating: str | None) -> str:
    if rating is None:
        return ""
    try:
        return SCALES[scale].level(rating).label
    except KeyError:
        return rating


def levels(scale: int) -> list[tuple[str, str]]:
    """The phone question's answers: the tablet's own scale, best first."""
    sc = SCALES.get(scale) or SCALES[3]
    return [(lv.name, lv.label) for lv in sc.levels]


def call_list(conn, sample_id: int) -> list[dict[str, Any]]:
    """The sampled records, window by window in the order they were rated,
    with their latest call.

    `phone` is the record's call-back number, which a tablet records only
    with a bad review; for the others the number comes from the queue or
    办件 system by the 办件编号 (the center never holds it)."""
    q = (select(sample_items.c.id, sample_items.c.record_id, sample_items.c.window_id,
                records.c.body)
         .join(records, records.c.id == sample_items.c.record_id)
         .where(sample_items.c.sample_id == sample_id)
         .order_by(sample_items.c.window_id, records.c.at, sample_items.c.record_id))
    rows = conn.execute(q).all()
    visits: dict[int, list] = {}
    for v in conn.execute(select(return_visits)
                          .join(sample_items, sample_items.c.id == return_visits.c.item_id)
                          .where(sample_items.c.sample_id == sample_id)
                          .order_by(return_visits.c.id)):
        visits.setdefault(v.item_id, []).append(v)
    out = []
    for r in rows:
        b = r.body
        scale = b.get("scale")
        calls = visits.get(r.id, [])
        last = calls[-1] if calls else None
        out.append({
            "item_id": r.id, "record_id": r.record_id, "window": r.window_id,
            "case_no": b.get("case_no") or "", "ticket": b.get("ticket") or "",
            "staff": f"{b.get('staff_name', '')}（{b.get('staff_id', '')}）",
            "matter": b.get("matter_name") or "", "voted": show(parse_time(b.get("voted_at"))),
            "phone": b.get("contact_phone"), "levels": levels(scale), "attempts": len(calls),
            "visit": None if last is None else {
                "reached": last.reached, "tablet": _label(scale, b.get("rating")),
                "phone": _label(last.phone_scale, last.phone_rating), "exact": last.exact,
                "same_class": last.same_class, "remarks": last.remarks, "by": last.visited_by,
                "at": show(from_db(last.visited_at))},
            "done": last is not None and last.reached,
        })
    return out


# ------------------------------------------------------------------ return visits

def record_visit(center, item_id: int, actor: Actor, *, reached: bool, phone_rating: str | None,
                 remarks: str = "") -> Agreement | None:
    """Store one call of a sampled record; the comparison with the tablet
    (None: not reached or not rated). SamplingError says why it is refused:
    a record is called again only until the citizen was reached once, so a
    recorded answer cannot be replaced by a friendlier one."""
    phone_rating = (phone_rating or "").strip() or None
    remarks = (remarks or "").strip()
    now = center.clock()
    with center.engine.begin() as conn:
        item = conn.execute(select(sample_items, records.c.body)
                            .join(records, records.c.id == sample_items.c.record_id)
                            .where(sample_items.c.id == item_id)).first()
        if item is None:
            raise SamplingError("没有这个抽样办件")
        # one writer per record at a time (PostgreSQL; SQLite's writers queue anyway)
        conn.execute(select(records.c.id).where(records.c.id == item.record_id).with_for_update())
        if _reached_before(conn, item.record_id):
            raise SamplingError("该办件已回访并联系上群众，不能重复记录")
        scale = item.body.get("scale")
        visit = check_visit(Visit(item.record_id, item.window_id, scale, item.body.get("rating"),
                                  reached, phone_rating, scale, remarks))
        agreement = (compare(scale, visit.tablet_rating, scale, phone_rating)
                     if phone_rating is not None else None)
        conn.execute(insert(return_visits), dict(
            item_id=item_id, channel=VISIT_CHANNEL, reached=reached,
            phone_scale=scale if phone_rating is not None else None, phone_rating=phone_rating,
            exact=agreement.exact if agreement else None,
            same_class=agreement.same_class if agreement else None,
            remarks=remarks, visited_by=actor.name, visited_at=to_db(now)))
    log.info("return visit of sample item %d by %s: %s", item_id, actor.name,
             "not reached" if not reached else
             "no rating" if agreement is None else
             f"{'agrees' if agreement.same_class else 'DISAGREES'} with the tablet")
    return agreement


def item_sample_id(conn, item_id: int) -> int | None:
    return conn.execute(select(sample_items.c.sample_id)
                        .where(sample_items.c.id == item_id)).scalar()


def _reached_before(conn, record_id: str) -> bool:
    q = (select(func.count()).select_from(
        return_visits.join(sample_items, sample_items.c.id == return_visits.c.item_id))
        .where(sample_items.c.record_id == record_id, return_visits.c.reached.is_(True)))
    return conn.execute(q).scalar_one() > 0


# ------------------------------------------------------------------ agreement

def _latest(conn, *where, columns: tuple[str, ...] = ()) -> list[tuple[tuple, Visit]]:
    """Each record's latest call (over every draw it was in), as sampling.Visit,
    with the record's values of `columns`."""
    body = records.c.body
    q = (select(return_visits, sample_items.c.record_id, records.c.window_id,
                body["scale"].as_integer().label("tablet_scale"),
                body["rating"].as_string().label("tablet_rating"),
                *(getattr(records.c, c).label(f"unit_{c}") for c in columns))
         .select_from(return_visits.join(sample_items, sample_items.c.id == return_visits.c.item_id)
                      .join(records, records.c.id == sample_items.c.record_id))
         .where(*where).order_by(return_visits.c.id))
    latest = {r.record_id: r for r in conn.execute(q)}
    return [(tuple(getattr(r, f"unit_{c}") for c in columns),
             Visit(r.record_id, r.window_id, r.tablet_scale, r.tablet_rating, r.reached,
                   r.phone_rating, r.phone_scale or r.tablet_scale, r.remarks))
            for r in latest.values()]


def _latest_visits(conn, *where) -> list[Visit]:
    return [v for _, v in _latest(conn, *where)]


def _period(start: date, end: date, scope: str | None) -> list:
    where = [records.c.day >= start, records.c.day <= end]
    if scope is not None:
        where.append(records.c.window_id == scope)
    return where


def period_visits(conn, start: date, end: date, scope: str | None = None) -> list[Visit]:
    """Each record's latest return visit, for records evaluated on hall days start..end."""
    return _latest_visits(conn, *_period(start, end, scope))


def visit_results(conn, record_ids: Iterable[str]) -> dict[str, str]:
    """The latest return visit of each of these records, as the pages say it:
    the phone rating's label, 未联系上 or 未评价 (records never called are absent)."""
    ids = list(record_ids)
    out: dict[str, str] = {}
    for i in range(0, len(ids), 500):
        for v in _latest_visits(conn, records.c.id.in_(ids[i:i + 500])):
            out[v.record_id] = (_label(v.phone_scale, v.phone_rating) if v.phone_rating
                                else "已联系，未评价" if v.reached else "未联系上")
    return out


def period_agreement(conn, start: date, end: date, scope: str | None = None) -> dict[str, WindowAgreement]:
    """Per window, the return visits of records evaluated on hall days start..end."""
    return window_agreement(period_visits(conn, start, end, scope))


def unit_agreement(conn, start: date, end: date, by: str, scope: str | None = None,
                   directory: Directory | None = None) -> dict[tuple, WindowAgreement]:
    """The same visits as `period_agreement`, per row key of stats.summary
    grouped `by` (department, window, staff, matter: stats.grouping)."""
    base, row_of = stats.grouping(by, directory if directory is not None else Directory())
    pairs = _latest(conn, *_period(start, end, scope), columns=base)
    return agreement_by((row_of(k)[0], v) for k, v in pairs)


def sample_agreement(conn, sample_id: int) -> dict[str, WindowAgreement]:
    """Per window, the return visits of one draw's records."""
    return window_agreement(_latest_visits(conn, sample_items.c.sample_id == sample_id))


def agreement_rows(agreements: dict[str, WindowAgreement], cfg) -> list[dict[str, Any]]:
    """The table the pages show: the counts, the rates and the flag of a
    window whose good ratings the visits do not confirm."""
    return [{"a": a, "flag": unconfirmed_good(a, min_checked=cfg.min_checked,
                                               min_confirmed=cfg.min_confirmed)}
            for a in agreements.values()]


__all__ = ["Audit", "MAX_PERIOD_DAYS", "VISIT_CHANNEL", "agreement_rows", "agreement_total",
           "call_list", "evaluated", "item_sample_id", "levels", "make_draw", "period_agreement", "period_visits",
           "record_visit", "repeat", "sample", "sample_agreement", "sample_list", "unit_agreement", "visit_results"]
