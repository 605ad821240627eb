"""评价统计: rates per window, staff, matter or department over a period, with
the charts (trend, distribution of ratings, ranking: center/charts.py), and
per window the agreement of the 监督查评 return visits with the tablets."""
from __future__ import annotations

from fastapi import APIRouter, Request

from .. import assessment, charts, directory_db, samplework, stats
from ..directory import in_use
from .deps import CenterDep, CurrentActor, Period, page

router = APIRouter(include_in_schema=False)


@router.get("/stats")
def stats_page(request: Request, actor: CurrentActor, center: CenterDep, period: Period,
               by: str = "window"):
    s, e = period
    by = by if by in stats.GROUPS else "window"
    with center.engine.connect() as conn:
        d = directory_db.load(conn)
        rows = stats.summary(conn, s, e, by, actor.scope, directory=d)
        points = stats.trend(conn, s, e, actor.scope)
        dist = stats.distribution(conn, s, e, actor.scope)
        agreements = samplework.period_agreement(conn, s, e, actor.scope)
    return page(request, "stats.html", actor, rows=rows, total=stats.totals(rows),
                points=points, distribution=dist, trend_chart=charts.trend(points, s, e),
                distribution_chart=charts.distribution(dist),
                ranking_chart=charts.ranking(assessment.ranked(rows)), rank_rule=assessment.RANK_RULE,
                start=s, end=e, by=by,
                groups=stats.GROUPS, directory_in_use=in_use(d),
                agreement=samplework.agreement_rows(agreements, center.cfg.supervision),
                agreement_total=samplework.agreement_total(agreements.values()),
                thresholds=center.cfg.supervision)
