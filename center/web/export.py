"""Export of a period: the evaluations as CSV or JSON (center/export.py),
the cases and their 交办/督办 notices as CSV (center/case_export.py)."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from .. import case_export, export
from .deps import CenterDep, CurrentActor, Period

router = APIRouter(include_in_schema=False)
FORMATS = {"csv": (export.csv_chunks, "text/csv; charset=utf-8"),
           "json": (export.json_chunks, "application/json")}


def _export(center, actor, period, kind: str) -> StreamingResponse:
    s, e = period
    chunks, media = FORMATS[kind]
    name = f"hall-records-{s:%Y%m%d}-{e:%Y%m%d}.{kind}"
    return StreamingResponse(chunks(center.engine, s, e, actor.scope), media_type=media,
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/export.csv")
def export_csv(actor: CurrentActor, center: CenterDep, period: Period):
    return _export(center, actor, period, "csv")


@router.get("/export.json")
def export_json(actor: CurrentActor, center: CenterDep, period: Period):
    return _export(center, actor, period, "json")


def _csv(name: str, chunks) -> StreamingResponse:
    return StreamingResponse(chunks, media_type="text/csv; charset=utf-8",
                             headers={"Content-Disposition": f'attachment; filename="{name}"'})


@router.get("/export/cases.csv")
def export_cases(actor: CurrentActor, center: CenterDep, period: Period):
    s, e = period
    return _csv(f"hall-cases-{s:%Y%m%d}-{e:%Y%m%d}.csv",
                case_export.cases_csv(center.engine, s, e, actor.scope))


@router.get("/export/supervisions.csv")
def export_supervisions(actor: CurrentActor, center: CenterDep, period: Period):
    s, e = period
    return _csv(f"hall-supervisions-{s:%Y%m%d}-{e:%Y%m%d}.csv",
                case_export.supervisions_csv(center.engine, s, e, actor.scope))
