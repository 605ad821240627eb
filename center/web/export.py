"""Export of the records of a period as CSV or JSON (center/export.py)."""
from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import StreamingResponse

from .. import export
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
