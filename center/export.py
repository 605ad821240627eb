"""Export of records as CSV or JSON: the GB/T 39046-2020 table 9 fields
first (in the standard's order and names), then the rest of the record.
The phone number is masked: only the case page shows it in full.

Every text a citizen or a tablet wrote may be a spreadsheet formula
(`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`). Each text cell that begins with
= + - @, a tab or a carriage return gets a leading ' (OWASP's rule), in
both formats: a JSON export, too, is often turned into a spreadsheet by a
converter that writes such strings as formulas. The exact record stays in
records.body."""
from __future__ import annotations

import csv
import io
import json
from datetime import date
from typing import Any, Iterator, Mapping

from sqlalchemy import select

from hallcore.hallclock import compact
from hallcore.record import mask_phone, parse_time

from .channels import label as channel_label
from .db import cases, records

ANONYMOUS = "匿名"

STANDARD_FIELDS = ("办件编号", "评价渠道", "评价人", "评价时间", "评价次数",
                   "满意度", "满意度代码", "文字评价", "行政区划")
OTHER_FIELDS = ("id", "device_id", "seq", "hall_id", "window_id", "department", "staff_id",
                "staff_name", "ticket", "matter_code", "matter_name", "matter_index",
                "matter_count", "result", "unrated_reason", "rating", "reasons", "comment",
                "contact_phone", "called_at", "finished_at", "prompted_at", "voted_at",
                "due_at", "calendar_verified", "appeal")
FIELDS = STANDARD_FIELDS + OTHER_FIELDS
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """A cell value no spreadsheet runs as a formula: text starting like one
    gets a leading '; numbers, None and booleans are unchanged; lists item by item."""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, list):
        return [inert(v) for v in value]
    return value


def export_row(rec: Mapping[str, Any], department: str, appeal: str | None) -> dict[str, Any]:
    """One exported row, standard fields first."""
    reasons = rec.get("reasons") or []
    text = "；".join([*reasons, *([rec["comment"]] if rec.get("comment") else [])])
    row: dict[str, Any] = {
        "办件编号": rec.get("case_no") or "",
        "评价渠道": channel_label(rec.get("channel")),
        "评价人": ANONYMOUS,
        "评价时间": compact(parse_time(rec.get("voted_at"))),
        "评价次数": 1,
        "满意度": rec.get("rating_label") or "未评价",
        "满意度代码": rec.get("satisfaction_code"),
        "文字评价": text,
        "行政区划": rec.get("region_code"),
    }
    for f in OTHER_FIELDS:
        row[f] = rec.get(f)
    row["department"] = department
    row["contact_phone"] = mask_phone(rec.get("contact_phone"))
    row["appeal"] = appeal or ""
    return {k: inert(v) for k, v in row.items()}


def _rows(engine, start: date, end: date, window_id: str | None) -> Iterator[dict[str, Any]]:
    q = (select(records.c.body, records.c.department, cases.c.appeal)
         .select_from(records.outerjoin(cases, cases.c.record_id == records.c.id))
         .where(records.c.day >= start, records.c.day <= end)
         .order_by(records.c.day, records.c.device_id, records.c.seq))
    if window_id is not None:
        q = q.where(records.c.window_id == window_id)
    with engine.connect() as conn:
        for r in conn.execution_options(yield_per=1000).execute(q):
            yield export_row(r.body, r.department, r.appeal)


def csv_chunks(engine, start: date, end: date, window_id: str | None = None) -> Iterator[str]:
    """CSV with a BOM so spreadsheet programs read the Chinese headers right."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=FIELDS, extrasaction="ignore")
    buf.write("\ufeff")
    w.writeheader()
    for i, row in enumerate(_rows(engine, start, end, window_id), 1):
        row["reasons"] = "；".join(row["reasons"] or [])
        w.writerow(row)
        if i % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def json_chunks(engine, start: date, end: date, window_id: str | None = None) -> Iterator[str]:
    yield '{"fields": ' + json.dumps(FIELDS, ensure_ascii=False) + ', "records": ['
    first = True
    for row in _rows(engine, start, end, window_id):
        yield ("" if first else ",\n") + json.dumps(row, ensure_ascii=False)
        first = False
    yield "]}\n"
