"""Statistics over a period, read from the per-day rollup (daily_stats) and
the cases table with SQL aggregates, so the cost does not grow with the
number of records.

好评率 = good / scored, 差评率 = (bad − upheld appeals) / scored,
参评率 = rated / all records, where scored = rated − upheld appeals.
整改率 = cases with a 整改结果 recorded / cases that stand (an upheld
appeal takes a case out of both), so a unit is measured on the 差评 it
really had (DESIGN §2.5).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Callable

from sqlalchemy import and_, case, delete, func, insert, select
from sqlalchemy.engine import Engine

from hallcore.hallclock import hall_zone, to_db
from hallcore.record import SCALES

from .db import cases, daily_stats, records
from .directory import UNKNOWN, Directory, department_of, in_use, staff_label, window_label

COUNTS = ("total", "rated", "good", "bad", "excluded")

GROUPS = {
    "window": ("窗口", ("window_id",)),
    "staff": ("工作人员", ("staff_id", "staff_name")),
    "matter": ("事项", ("matter_code", "matter_name")),
    "department": ("部门", ("department",)),
}


@dataclass
class Row:
    key: tuple
    label: str
    total: int = 0
    rated: int = 0
    good: int = 0
    bad: int = 0
    excluded: int = 0
    cases: int = 0
    closed: int = 0
    on_time: int = 0
    standing: int = 0       # cases without an upheld appeal
    rectified: int = 0      # of those, cases with a 整改结果

    @property
    def scored(self) -> int:
        return self.rated - self.excluded

    @property
    def good_rate(self) -> float | None:
        return self.good / self.scored if self.scored else None

    @property
    def standing_bad(self) -> int:
        """差评 that stand: bad reviews less those upheld on appeal."""
        return self.bad - self.excluded

    @property
    def bad_rate(self) -> float | None:
        return self.standing_bad / self.scored if self.scored else None

    @property
    def participation(self) -> float | None:
        return self.rated / self.total if self.total else None

    @property
    def rectification_rate(self) -> float | None:
        return self.rectified / self.standing if self.standing else None


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _label(key: tuple) -> str:
    return " ".join(str(k) for k in key if k not in (None, "")) or "（空）"


# The cases' own grouping columns (a record's case carries its record's names,
# so nothing here reads records: ix_cases_voted covers the whole count).
_CASE_COLUMNS = {"window_id": cases.c.window_id, "staff_id": cases.c.staff_id,
                 "staff_name": cases.c.staff_name, "matter_code": cases.c.matter_code,
                 "matter_name": cases.c.matter_name, "department": cases.c.department}
_RECORD_NAMES = ("staff_name", "matter_name")      # only a record's case has them


def grouping(by: str, d: Directory) -> tuple[tuple[str, ...], Callable[[tuple], tuple[tuple, str]]]:
    """The columns to sum by and how a group of them becomes a row (key, label).

    With a directory in use, windows and staff carry its names, and
    departments are the directory's: a record's window maps to its
    department; a window it does not know is a row of its own,
    未登记（07）. Without one, departments are those the center's
    [departments] gave each record at ingest (DESIGN §13.6)."""
    if by == "department" and in_use(d):
        def dept(k: tuple) -> tuple[tuple, str]:
            dep = department_of(d, k[0])
            return (("department", dep.id) if dep.known else ("window", k[0])), dep.label
        return ("window_id",), dept
    if by == "window":
        return ("window_id",), lambda k: (k, window_label(d, k[0]))
    if by == "staff" and in_use(d):
        def person(k: tuple) -> tuple[tuple, str]:
            known = k[0] in d.staff          # one row per registered person, whatever name a record carried
            return ((k[0],) if known else k), staff_label(d, k[0], k[1])
        return ("staff_id", "staff_name"), person
    return GROUPS[by][1], lambda k: (k, _label(k))


def summary(conn, start: date, end: date, by: str, window_id: str | None = None,
            directory: Directory | None = None) -> list[Row]:
    """One row per window / staff / matter / department for days start..end."""
    d = directory if directory is not None else Directory()
    base, row_of = grouping(by, d)
    cols = [getattr(daily_stats.c, c) for c in base]
    where = [daily_stats.c.day >= start, daily_stats.c.day <= end]
    if window_id is not None:
        where.append(daily_stats.c.window_id == window_id)
    q = (select(*cols, *(func.sum(getattr(daily_stats.c, c)) for c in COUNTS))
         .where(*where).group_by(*cols))
    rows: dict[tuple, Row] = {}
    n = len(cols)
    for r in conn.execute(q):
        key, label = row_of(tuple(r[:n]))
        row = rows.setdefault(key, Row(key, label))
        for f, v in zip(COUNTS, r[n:]):
            setattr(row, f, getattr(row, f) + int(v or 0))
    # Cases: counted into the same rows, by the same columns.
    ccols = [_CASE_COLUMNS[c] for c in base]
    stands = cases.c.appeal != "upheld"
    cq = (select(*ccols, func.count(), func.sum(case((cases.c.state == "closed", 1), else_=0)),
                 func.sum(case((cases.c.on_time.is_(True), 1), else_=0)),
                 func.sum(case((stands, 1), else_=0)),
                 func.sum(case((and_(stands, cases.c.rectified_at.is_not(None)), 1), else_=0)))
          .where(cases.c.voted_at >= day_start_utc(start),
                 cases.c.voted_at < day_start_utc(end + timedelta(days=1)))
          .group_by(*ccols))
    if any(c in _RECORD_NAMES for c in base):
        cq = cq.where(cases.c.source == "record")      # by staff or matter: the records' cases
    if window_id is not None:
        cq = cq.where(cases.c.window_id == window_id)
    for r in conn.execute(cq):
        key, label = row_of(tuple(r[:n]))
        row = rows.setdefault(key, Row(key, label))     # a case whose record day lies outside
        row.cases += int(r[n])
        row.closed += int(r[n + 1] or 0)
        row.on_time += int(r[n + 2] or 0)
        row.standing += int(r[n + 3] or 0)
        row.rectified += int(r[n + 4] or 0)
    return sorted(rows.values(), key=lambda r: (r.label.startswith(UNKNOWN), r.label))


def day_start_utc(d: date) -> datetime:
    """Midnight hall time of `d` as the naive UTC the tables store (a period
    of hall days is [day_start_utc(start), day_start_utc(end + 1 day)))."""
    return to_db(datetime.combine(d, time(0), tzinfo=hall_zone()))


def totals(rows: list[Row]) -> Row:
    t = Row((), "合计")
    for r in rows:
        for f in ("total", "rated", "good", "bad", "excluded", "cases", "closed", "on_time",
                  "standing", "rectified"):
            setattr(t, f, getattr(t, f) + getattr(r, f))
    return t


def trend(conn, start: date, end: date, window_id: str | None = None) -> list[tuple[date, Row]]:
    where = [daily_stats.c.day >= start, daily_stats.c.day <= end]
    if window_id is not None:
        where.append(daily_stats.c.window_id == window_id)
    q = (select(daily_stats.c.day, *(func.sum(getattr(daily_stats.c, c)) for c in
                                     ("total", "rated", "good", "bad", "excluded")))
         .where(*where).group_by(daily_stats.c.day).order_by(daily_stats.c.day))
    out = []
    for r in conn.execute(q):
        d = r[0] if isinstance(r[0], date) else date.fromisoformat(str(r[0]))
        out.append((d, Row((d,), d.isoformat(), *(int(x or 0) for x in r[1:]))))
    return out


def channel_counts(conn, start: date, end: date, by: str, window_id: str | None = None,
                   directory: Directory | None = None) -> dict[tuple, dict[str, int]]:
    """Per row key of `summary` (same grouping), the rated records (评价) per
    channel value (center/channels.py) for days start..end."""
    d = directory if directory is not None else Directory()
    base, row_of = grouping(by, d)
    cols = [getattr(daily_stats.c, c) for c in base]
    where = [daily_stats.c.day >= start, daily_stats.c.day <= end, daily_stats.c.rated > 0]
    if window_id is not None:
        where.append(daily_stats.c.window_id == window_id)
    q = (select(*cols, daily_stats.c.channel, func.sum(daily_stats.c.rated))
         .where(*where).group_by(*cols, daily_stats.c.channel))
    out: dict[tuple, dict[str, int]] = {}
    n = len(cols)
    for r in conn.execute(q):
        key, _ = row_of(tuple(r[:n]))
        per = out.setdefault(key, {})
        per[r[n]] = per.get(r[n], 0) + int(r[n + 1] or 0)
    return out


# The ratings by GB/T 39046 满意度代码 (A.8): one label per code on either
# scale (a 3-level 满意 is the 5-level 满意), 0 for an unrated record.
RATING_LABELS = {lv.satisfaction_code: lv.label for lv in SCALES[5].levels} | {0: "未评价"}
EXCLUDED_LABEL = "申诉成立（不计分）"


def distribution(conn, start: date, end: date, window_id: str | None = None) -> list[tuple[str, int]]:
    """The records of days start..end by rating, best first, then 未评价 and
    the bad reviews upheld on appeal (out of the 差评 count, as in `summary`).
    Levels without records are left out, but for 3-level ones: those are
    always shown."""
    where = [daily_stats.c.day >= start, daily_stats.c.day <= end]
    if window_id is not None:
        where.append(daily_stats.c.window_id == window_id)
    q = (select(daily_stats.c.satisfaction_code, func.sum(daily_stats.c.total),
                func.sum(daily_stats.c.excluded))
         .where(*where).group_by(daily_stats.c.satisfaction_code))
    counts: dict[int, int] = {}
    excluded = 0
    for code, total, upheld in conn.execute(q):
        counts[int(code)] = counts.get(int(code), 0) + int(total or 0) - int(upheld or 0)
        excluded += int(upheld or 0)
    shown = {lv.satisfaction_code for lv in SCALES[3].levels} | {0}
    out = [(RATING_LABELS.get(c, f"代码 {c}"), counts.get(c, 0))
           for c in sorted(set(counts) | shown, key=lambda c: (c == 0, c))
           if c in shown or counts.get(c)]
    if excluded:
        out.append((EXCLUDED_LABEL, excluded))
    return out


def rebuild_daily_stats(engine: Engine) -> int:
    """Recompute the rollup from the records with one INSERT … SELECT."""
    r = records.c
    upheld = case((and_(cases.c.appeal == "upheld", r.bad.is_(True)), 1), else_=0)
    rated = case((r.result == "rated", 1), else_=0)
    bad = case((r.bad.is_(True), 1), else_=0)
    good = case((and_(r.result == "rated", r.bad.is_(False)), 1), else_=0)
    # the key of center/ingest.py stats_key (an unrated record's code: 0)
    keys = (r.day, r.department, r.window_id, r.staff_id, r.staff_name, r.matter_code, r.matter_name,
            r.channel, func.coalesce(r.satisfaction_code, 0))
    sel = (select(*keys, func.count(), func.sum(rated), func.sum(good), func.sum(bad), func.sum(upheld))
           .select_from(records.outerjoin(cases, cases.c.record_id == r.id))
           .group_by(*keys))
    with engine.begin() as conn:
        conn.execute(delete(daily_stats))
        conn.execute(insert(daily_stats).from_select(
            ["day", "department", "window_id", "staff_id", "staff_name", "matter_code",
             "matter_name", "channel", "satisfaction_code", "total", "rated", "good", "bad",
             "excluded"], sel))
        return conn.execute(select(func.count()).select_from(records)).scalar_one()


__all__ = ["EXCLUDED_LABEL", "GROUPS", "RATING_LABELS", "Row", "channel_counts", "day_start_utc", "distribution",
           "grouping", "pct", "rebuild_daily_stats", "summary", "totals", "trend"]
