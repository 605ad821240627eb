"""The data of the dashboard's charts, as pure rules. A page puts each
payload in a `<script type="application/json" id=ID>` block (Jinja's
tojson) and a `<div class="hall-chart" data-kind=KIND data-src=ID>`
where the chart goes; center/static/charts.js draws it with the vendored
Apache ECharts (center/static/vendor/echarts/). The tables beside the
charts carry the same numbers for a reader without script or a printout.

Kinds:
- trend: 好评率 and 差评率 per day over every day of the period (a day
  without scored evaluations has no point, and the lines join the days
  that have), and the evaluations per day as bars;
- distribution: the records by rating (stats.distribution);
- ranking: 好评率 by unit in rank order (center/assessment.py's rule).

Rates are percentages rounded to one decimal, as the tables show them.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterable

from .stats import Row

KINDS = ("trend", "distribution", "ranking")
MAX_DAYS = 3660


def _pct(x: float | None) -> float | None:
    return None if x is None else round(x * 100, 1)


def days(start: date, end: date) -> list[date]:
    """Every day of the period, start and end included."""
    n = min((end - start).days, MAX_DAYS)
    return [start + timedelta(days=i) for i in range(n + 1)]


def trend(points: Iterable[tuple[date, Row]], start: date, end: date) -> dict[str, Any]:
    """The trend over every day start..end from stats.trend's points (days with records)."""
    by_day = dict(points)
    span = days(start, end)
    rows = [by_day.get(d) for d in span]
    return {
        "kind": "trend",
        "days": [d.isoformat() for d in span],
        "labels": [f"{d.month}月{d.day}日" for d in span],
        "good_rate": [_pct(r.good_rate) if r else None for r in rows],
        "bad_rate": [_pct(r.bad_rate) if r else None for r in rows],
        "rated": [r.rated if r else 0 for r in rows],
    }


def distribution(counts: Iterable[tuple[str, int]]) -> dict[str, Any]:
    items = [{"name": name, "value": n} for name, n in counts]
    return {"kind": "distribution", "items": items, "total": sum(i["value"] for i in items)}


def ranking(ranked: Iterable[tuple[int | None, Row]]) -> dict[str, Any]:
    """The ranked units (assessment.ranked), best first; unranked ones are left out."""
    units = [(rank, r) for rank, r in ranked if rank is not None]
    return {
        "kind": "ranking",
        "units": [r.label for _, r in units],
        "ranks": [rank for rank, _ in units],
        "good_rate": [_pct(r.good_rate) for _, r in units],
        "scored": [r.scored for _, r in units],
    }


__all__ = ["KINDS", "days", "distribution", "ranking", "trend"]
