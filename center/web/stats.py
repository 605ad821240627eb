"""评价统计: rates per window, staff, matter or department over a period."""
from __future__ import annotations

from fastapi import APIRouter, Request

from .. import directory_db, stats
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
    return page(request, "stats.html", actor, rows=rows, total=stats.totals(rows),
                svg=stats.trend_svg(points, s, e), points=points, start=s, end=e, by=by,
                groups=stats.GROUPS, directory_in_use=in_use(d))
