"""Statistics over a period, read from the per-day rollup (daily_stats) and
the cases table with SQL aggregates, so the cost does not grow with the
number of records.

好评率 = good / scored, 差评率 = (bad − upheld appeals) / scored,
参评率 = rated / all records, where scored = rated − upheld appeals.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from html import escape

from sqlalchemy import and_, case, delete, func, insert, select
from sqlalchemy.engine import Engine

from hallcore.hallclock import hall_today, hall_zone, to_db

from .db import cases, daily_stats, records

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

    @property
    def scored(self) -> int:
        return self.rated - self.excluded

    @property
    def good_rate(self) -> float | None:
        return self.good / self.scored if self.scored else None

    @property
    def bad_rate(self) -> float | None:
        return (self.bad - self.excluded) / self.scored if self.scored else None

    @property
    def participation(self) -> float | None:
        return self.rated / self.total if self.total else None


def pct(x: float | None) -> str:
    return "—" if x is None else f"{x * 100:.1f}%"


def _label(key: tuple) -> str:
    return " ".join(str(k) for k in key if k not in (None, "")) or "（空）"


def summary(conn, start: date, end: date, by: str, window_id: str | None = None) -> list[Row]:
    """One row per window / staff / matter / department for days start..end."""
    cols = [getattr(daily_stats.c, c) for c in GROUPS[by][1]]
    where = [daily_stats.c.day >= start, daily_stats.c.day <= end]
    if window_id is not None:
        where.append(daily_stats.c.window_id == window_id)
    q = (select(*cols, *(func.sum(getattr(daily_stats.c, c)) for c in
                         ("total", "rated", "good", "bad", "excluded")))
         .where(*where).group_by(*cols).order_by(*cols))
    rows: dict[tuple, Row] = {}
    n = len(cols)
    for r in conn.execute(q):
        key = tuple(r[:n])
        rows[key] = Row(key, _label(key), *(int(x or 0) for x in r[n:]))
    # Cases: grouped by the same key where the cases table has it.
    case_cols = [getattr(cases.c, c) for c in GROUPS[by][1] if c in cases.c]
    if len(case_cols) == 1:
        cq = (select(case_cols[0], func.count(),
                     func.sum(case((cases.c.state == "closed", 1), else_=0)),
                     func.sum(case((cases.c.on_time.is_(True), 1), else_=0)))
              .where(cases.c.voted_at >= _utc_start(start), cases.c.voted_at < _utc_start(end + timedelta(days=1)))
              .group_by(case_cols[0]))
        if window_id is not None:
            cq = cq.where(cases.c.window_id == window_id)
        for r in conn.execute(cq):
            for key, row in rows.items():
                if key[0] == r[0]:
                    row.cases += int(r[1])
                    row.closed += int(r[2] or 0)
                    row.on_time += int(r[3] or 0)
    return list(rows.values())


def _utc_start(d: date):
    """Midnight hall time of `d` as the naive UTC the tables store."""
    from datetime import datetime, time
    return to_db(datetime.combine(d, time(0), tzinfo=hall_zone()))


def totals(rows: list[Row]) -> Row:
    t = Row((), "合计")
    for r in rows:
        for f in ("total", "rated", "good", "bad", "excluded", "cases", "closed", "on_time"):
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


def trend_svg(points: list[tuple[date, Row]], start: date | None = None, end: date | None = None,
              width: int = 720, height: int = 220) -> str:
    """A small line chart of 好评率 (green) and 差评率 (red) per day, the
    x axis spanning start..end (default: the first to the last point)."""
    pad_l, pad_r, pad_t, pad_b = 44, 12, 12, 28
    w, h = width - pad_l - pad_r, height - pad_t - pad_b
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" role="img" aria-label="好评率与差评率趋势">',
             f'<rect x="{pad_l}" y="{pad_t}" width="{w}" height="{h}" fill="#fafafa" stroke="#ccc"/>']
    for frac in (0, 0.25, 0.5, 0.75, 1):
        y = pad_t + h - frac * h
        parts.append(f'<line x1="{pad_l}" y1="{y:.1f}" x2="{pad_l + w}" y2="{y:.1f}" stroke="#eee"/>'
                     f'<text x="{pad_l - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">'
                     f'{int(frac * 100)}%</text>')
    n = len(points)
    first = start or (points[0][0] if points else hall_today())
    span = max(((end or (points[-1][0] if points else first)) - first).days, 0)

    def xy(d: date, v: float) -> str:
        x = pad_l + (w * (d - first).days / span if span else w / 2)
        return f"{x:.1f},{pad_t + h - v * h:.1f}"

    for attr, color, name in (("good_rate", "#2e7d32", "好评率"), ("bad_rate", "#c62828", "差评率")):
        pts = [xy(d, getattr(r, attr)) for d, r in points if getattr(r, attr) is not None]
        if pts:
            parts.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{" ".join(pts)}">'
                         f'<title>{name}</title></polyline>')
            if len(pts) == 1:
                x, y = pts[0].split(",")
                parts.append(f'<circle cx="{x}" cy="{y}" r="3" fill="{color}"/>')
    if n or start:
        for d in sorted({first, first + timedelta(days=span)}):
            x = xy(d, 0).split(",")[0]
            parts.append(f'<text x="{x}" y="{height - 8}" font-size="10" text-anchor="middle">'
                         f'{escape(d.strftime("%m-%d"))}</text>')
    parts.append(f'<text x="{pad_l + 6}" y="{pad_t + 14}" font-size="11" fill="#2e7d32">— 好评率</text>'
                 f'<text x="{pad_l + 70}" y="{pad_t + 14}" font-size="11" fill="#c62828">— 差评率</text>')
    parts.append("</svg>")
    return "".join(parts)


def rebuild_daily_stats(engine: Engine) -> int:
    """Recompute the rollup from the records with one INSERT … SELECT."""
    r = records.c
    upheld = case((and_(cases.c.appeal == "upheld", r.bad.is_(True)), 1), else_=0)
    rated = case((r.result == "rated", 1), else_=0)
    bad = case((r.bad.is_(True), 1), else_=0)
    good = case((and_(r.result == "rated", r.bad.is_(False)), 1), else_=0)
    keys = (r.day, r.department, r.window_id, r.staff_id, r.staff_name, r.matter_code, r.matter_name)
    sel = (select(*keys, func.count(), func.sum(rated), func.sum(good), func.sum(bad), func.sum(upheld))
           .select_from(records.outerjoin(cases, cases.c.record_id == r.id))
           .group_by(*keys))
    with engine.begin() as conn:
        conn.execute(delete(daily_stats))
        conn.execute(insert(daily_stats).from_select(
            ["day", "department", "window_id", "staff_id", "staff_name", "matter_code",
             "matter_name", "total", "rated", "good", "bad", "excluded"], sel))
        return conn.execute(select(func.count()).select_from(records)).scalar_one()


__all__ = ["GROUPS", "Row", "pct", "rebuild_daily_stats", "summary", "totals", "trend", "trend_svg"]
