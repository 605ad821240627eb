"""The assessment report (center/assessment.py) read from the database: the
statistics' rows, the evaluations per channel and the 监督查评 agreement,
each by the same grouping (stats.grouping, with the directory), in the
actor's scope (a handler: their window)."""
from __future__ import annotations

from datetime import date

from . import assessment, directory_db, samplework, stats
from .directory import Directory


def load(conn, start: date, end: date, by: str, scope: str | None = None,
         directory: Directory | None = None) -> assessment.Report:
    if by not in assessment.BY:
        raise ValueError(f"by={by!r}: expected one of {', '.join(assessment.BY)}")
    d = directory if directory is not None else directory_db.load(conn)
    rows = stats.summary(conn, start, end, by, scope, directory=d)
    counts = stats.channel_counts(conn, start, end, by, scope, directory=d)
    agreements = samplework.unit_agreement(conn, start, end, by, scope, directory=d)
    return assessment.build(start, end, by, rows, counts, agreements)


__all__ = ["load"]
