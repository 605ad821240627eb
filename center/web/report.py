"""绩效考核报表: the assessment report of a period by department, window or
staff (center/assessment.py), as a page with its charts, a print view for
A4 landscape, and CSV and XLSX downloads; the same numbers as
`hall-center report`. In the actor's scope, as the statistics page: a
handler sees their own window only (and its rank among what they see)."""
from __future__ import annotations

from datetime import date
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse

from hallcore.hallclock import in_hall

from .. import assessment, assessment_db, charts, stats
from ..assessment_xlsx import xlsx_bytes
from ..export import csv_stream, inert
from .deps import CenterDep, CurrentActor, Period, page

router = APIRouter(include_in_schema=False)
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _by(by: str) -> str:
    return by if by in assessment.BY else "department"


def _report(center, actor, s: date, e: date, by: str) -> assessment.Report:
    with center.engine.connect() as conn:
        return assessment_db.load(conn, s, e, by, actor.scope)


def _context(rep: assessment.Report, actor) -> dict:
    cols, values = assessment.table(rep)
    return dict(report=rep, cols=cols, values=values, cell=assessment.cell_text,
                title=assessment.title(rep), period_text=assessment.period_text(rep),
                notes=assessment.NOTES, start=rep.start, end=rep.end, by=rep.by,
                query=urlencode({"start": rep.start.isoformat(), "end": rep.end.isoformat(), "by": rep.by}),
                groups={k: stats.GROUPS[k] for k in assessment.BY}, scoped=actor.scope is not None)


def _name(rep: assessment.Report, ext: str) -> str:
    return f"hall-assessment-{rep.by}-{rep.start:%Y%m%d}-{rep.end:%Y%m%d}.{ext}"


@router.get("/report")
def report_page(request: Request, actor: CurrentActor, center: CenterDep, period: Period,
                by: str = "department"):
    s, e = period
    with center.engine.connect() as conn:
        rep = assessment_db.load(conn, s, e, _by(by), actor.scope)
        points = stats.trend(conn, s, e, actor.scope)
        dist = stats.distribution(conn, s, e, actor.scope)
    return page(request, "report.html", actor, **_context(rep, actor),
                trend_chart=charts.trend(points, s, e), distribution_chart=charts.distribution(dist),
                ranking_chart=charts.ranking((u.rank, u.row) for u in rep.units))


@router.get("/report/print")
def report_print(request: Request, actor: CurrentActor, center: CenterDep, period: Period,
                 by: str = "department"):
    rep = _report(center, actor, *period, _by(by))
    return page(request, "report_print.html", actor, **_context(rep, actor),
                generated=in_hall(center.clock()))


@router.get("/report.csv")
def report_csv(actor: CurrentActor, center: CenterDep, period: Period, by: str = "department"):
    rep = _report(center, actor, *period, _by(by))
    header, rows = assessment.csv_rows(rep)
    lines = [dict(zip(header, (inert(v) for v in row))) for row in rows]
    return StreamingResponse(csv_stream(tuple(header), lines), media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{_name(rep, "csv")}"'})


@router.get("/report.xlsx")
def report_xlsx(actor: CurrentActor, center: CenterDep, period: Period, by: str = "department"):
    rep = _report(center, actor, *period, _by(by))
    return Response(xlsx_bytes(rep, in_hall(center.clock())), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="{_name(rep, "xlsx")}"'})
