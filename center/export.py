"""Export of evaluations as CSV or JSON: the GB/T 39046-2020 table 9 fields
first (in the standard's order and names), then the rest of the record.
The phone number is masked: only the case page shows it in full.

Each evaluation is a row: a record as the tablet sent it (评价次数 1), and
after it, each 二次评价 of the period (评价次数 2: the first record's 办件,
window and matter, with the second evaluation's channel, time and rating,
and `first_record_id` naming the first).

Every text a citizen or a tablet wrote may be a spreadsheet formula
(`=HYPERLINK(...)`, `=cmd|' /C calc'!A0`). Each text cell that begins with
= + - @, a tab or a carriage return gets a leading ' (OWASP's rule), in
both formats: a JSON export, too, is often turned into a spreadsheet by a
converter that writes such strings as formulas. The exact record stays in
records.body.

These exports are for reading: the phone is masked and texts are guarded,
so a row does not hash as the tablet's record did. What the inspectors
(纪检监察) verify is the inspection folder (`InspectionExport`, written by
`hall-center audit --export FOLDER`): every body exactly as stored, and
the chain heads the tablets reported (docs/design-integrity.md §1.4)."""
from __future__ import annotations

import csv
import io
import json
import os
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from sqlalchemy import select

from hallcore.chain import Head
from hallcore.fsutil import PRIVATE, atomic_write_json
from hallcore.hallclock import compact, from_db, stamp
from hallcore.record import SCALES, mask_phone, parse_time

from . import directory_db
from .channels import label as channel_label
from .db import cases, records, second_evaluations
from .directory import Directory, department_label
from .stats import day_start_utc

ANONYMOUS = "匿名"

STANDARD_FIELDS = ("办件编号", "评价渠道", "评价人", "评价时间", "评价次数",
                   "满意度", "满意度代码", "文字评价", "行政区划")
OTHER_FIELDS = ("id", "device_id", "seq", "hall_id", "window_id", "department", "staff_id",
                "staff_name", "ticket", "matter_code", "matter_name", "matter_index",
                "matter_count", "result", "unrated_reason", "rating", "reasons", "comment",
                "contact_phone", "called_at", "finished_at", "prompted_at", "voted_at",
                "due_at", "calendar_verified", "appeal", "first_record_id")
FIELDS = STANDARD_FIELDS + OTHER_FIELDS
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# what a 二次评价 row keeps of the first record: the same 办件, window, staff and matter
SECOND_KEEPS = ("case_no", "region_code", "hall_id", "window_id", "staff_id", "staff_name",
                "ticket", "matter_code", "matter_name", "matter_index", "matter_count",
                "contact_phone", "scale")


def inert(value: Any) -> Any:
    """A cell value no spreadsheet runs as a formula: text starting like one
    gets a leading '; numbers, None and booleans are unchanged; lists item by item."""
    if isinstance(value, str):
        return "'" + value if value.startswith(FORMULA_STARTS) else value
    if isinstance(value, list):
        return [inert(v) for v in value]
    return value


def export_row(rec: Mapping[str, Any], department: str, appeal: str | None,
               evaluation_no: int = 1) -> dict[str, Any]:
    """One exported row, standard fields first."""
    reasons = rec.get("reasons") or []
    text = "；".join([*reasons, *([rec["comment"]] if rec.get("comment") else [])])
    row: dict[str, Any] = {
        "办件编号": rec.get("case_no") or "",
        "评价渠道": channel_label(rec.get("channel")),
        "评价人": ANONYMOUS,
        "评价时间": compact(parse_time(rec.get("voted_at"))),
        "评价次数": evaluation_no,
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


def second_body(first: Mapping[str, Any], second) -> dict[str, Any]:
    """A 二次评价 row (second_evaluations) as a record body for export_row."""
    level = SCALES[second.scale].level(second.rating)
    return {**{k: first.get(k) for k in SECOND_KEEPS}, "id": second.record_id,
            "channel": second.channel, "result": "rated", "rating": level.name,
            "rating_label": level.label, "satisfaction_code": level.satisfaction_code,
            "voted_at": stamp(from_db(second.at)), "first_record_id": first.get("id")}


def _rows(engine, start: date, end: date, window_id: str | None) -> Iterator[dict[str, Any]]:
    q = (select(records.c.body, records.c.window_id, records.c.department, cases.c.appeal)
         .select_from(records.outerjoin(cases, cases.c.record_id == records.c.id))
         .where(records.c.day >= start, records.c.day <= end)
         .order_by(records.c.day, records.c.device_id, records.c.seq))
    sq = (select(second_evaluations, records.c.body, records.c.window_id, records.c.department)
          .join(records, records.c.id == second_evaluations.c.first_record_id)
          .where(second_evaluations.c.at >= day_start_utc(start),
                 second_evaluations.c.at < day_start_utc(end + timedelta(days=1)))
          .order_by(second_evaluations.c.at, second_evaluations.c.id))
    if window_id is not None:
        q = q.where(records.c.window_id == window_id)
        sq = sq.where(records.c.window_id == window_id)
    with engine.connect() as conn:
        d: Directory = directory_db.load(conn)
        for r in conn.execution_options(yield_per=1000).execute(q):
            yield export_row(r.body, department_label(d, r.window_id, r.department), r.appeal)
        for r in conn.execution_options(yield_per=1000).execute(sq):
            yield export_row(second_body(r.body, r), department_label(d, r.window_id, r.department),
                             None, evaluation_no=r.evaluation_no)


def csv_stream(fields: tuple[str, ...], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """CSV with a BOM so spreadsheet programs read the Chinese headers right,
    yielded in chunks of 500 rows."""
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=fields, extrasaction="ignore")
    buf.write("\ufeff")
    w.writeheader()
    for i, row in enumerate(rows, 1):
        w.writerow(row)
        if i % 500 == 0:
            yield buf.getvalue()
            buf.seek(0)
            buf.truncate()
    yield buf.getvalue()


def csv_chunks(engine, start: date, end: date, window_id: str | None = None) -> Iterator[str]:
    def flat(rows):
        for row in rows:
            row["reasons"] = "；".join(row["reasons"] or [])
            yield row
    return csv_stream(FIELDS, flat(_rows(engine, start, end, window_id)))


def json_chunks(engine, start: date, end: date, window_id: str | None = None) -> Iterator[str]:
    yield '{"fields": ' + json.dumps(FIELDS, ensure_ascii=False) + ', "records": ['
    first = True
    for row in _rows(engine, start, end, window_id):
        yield ("" if first else ",\n") + json.dumps(row, ensure_ascii=False)
        first = False
    yield "]}\n"


class InspectionExport:
    """The folder the inspectors verify (docs/design-integrity.md §1.4):
    `records.jsonl`, each stored body exactly as the tablet sent it, one JSON
    object a line (by device, then seq, as added), and `heads.json`, the chain
    head each device last reported. The bodies hold call-back phone numbers:
    both files are private to the owner. Refuses a folder that already holds
    either file, so an old export is never mixed with a new one."""

    RECORDS, HEADS = "records.jsonl", "heads.json"

    def __init__(self, folder: str | os.PathLike):
        self.folder = Path(folder)
        self.count = 0
        try:
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._file = open(os.open(self.folder / self.RECORDS, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE),
                              "w", encoding="utf-8", newline="\n")
        except FileExistsError:
            raise ValueError(f"{self.folder / self.RECORDS} exists: export into a new or empty folder") from None
        if (self.folder / self.HEADS).exists():
            self._file.close()
            raise ValueError(f"{self.folder / self.HEADS} exists: export into a new or empty folder")

    def add(self, body: Mapping[str, Any]) -> None:
        self._file.write(json.dumps(body, ensure_ascii=False) + "\n")
        self.count += 1

    def finish(self, heads: Mapping[str, Head]) -> None:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        atomic_write_json(self.folder / self.HEADS,
                          {d: {"seq": h.seq, "hash": h.hash, "pending": h.pending} for d, h in sorted(heads.items())})

    def abandon(self) -> None:
        """The export failed half way: leave no partial file to be handed over."""
        self._file.close()
        (self.folder / self.RECORDS).unlink(missing_ok=True)
