"""The center's own QR rating page: what it reads and writes (DESIGN.md section 13.4).

The check code and the once-per-评价次数 decision are center/qrcheck.py's;
this module loads the hall secrets, looks up what the 办件 already has, and
stores a rating as a schema-1 record with channel `qr`, device_id
"qr:<hall>" and as seq the id of its `qr_ratings` row (the one-time key:
of two phones racing, one insert wins, the other is told 已评价).
The record then goes through ingest's writer: statistics, and a case for a
bad review, exactly as a tablet's.
"""
from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from hallcore.config import load_toml
from hallcore.hallclock import in_hall, to_db
from hallcore.record import check_record, new_record, scale

from . import casework, channels
from .cases import Actor, CaseError
from .db import cases, qr_ratings, records
from .ingest import Verdict, _write
from .qrcheck import QrFields, Rated, may_rate, parse_secrets

log = logging.getLogger("center.qr")

PREFIX = "qr:"
SCALE = 3                      # 满意 / 基本满意 / 不满意 on the phone


def load_secrets(path: Path | None) -> dict[str, tuple[bytes, ...]]:
    """The hall secrets of `[qr] secrets_file`; none configured or no file: no
    hall verifies (every code is refused, and the log says why)."""
    if path is None:
        return {}
    if not path.exists():
        log.warning("[qr] secrets_file %s does not exist: every QR code is refused; "
                    "create it with hall-center qr-secret HALL", path)
        return {}
    return parse_secrets(load_toml(path), source=str(path))


@dataclass(frozen=True)
class Matter:
    code: str
    name: str
    rated: bool


@dataclass(frozen=True)
class Known:
    """What the center already holds of a 办件: its tablet records (by matter), and ratings."""
    first: dict[str, dict]            # matter code -> a stored record of it (the first evaluation)
    rated: set[Rated]


def _case_records(conn, hall_id: str, case_no: str) -> list[dict]:
    # records.body holds case_no; no column of its own (yet), so this reads the JSON
    q = (select(records.c.body).where(records.c.hall_id == hall_id,
                                      records.c.body["case_no"].as_string() == case_no)
         .order_by(records.c.at))
    return list(conn.execute(q).scalars())


def known(conn, fields: QrFields) -> Known:
    first: dict[str, dict] = {}
    rated: set[Rated] = set()
    for body in _case_records(conn, fields.hall_id, fields.case_no):
        first.setdefault(body["matter_code"], body)
        if body.get("result") == "rated":
            rated.add((fields.case_no, body["matter_code"], 1))    # a tablet rating is the first evaluation
    for m, n in conn.execute(select(qr_ratings.c.matter_code, qr_ratings.c.evaluation_no).where(
            qr_ratings.c.hall_id == fields.hall_id, qr_ratings.c.case_no == fields.case_no)):
        rated.add((fields.case_no, m, n))
    return Known(first, rated)


def matters_of(fields: QrFields, k: Known) -> list[Matter]:
    """The 办件's matters as the page shows them: the code's, else the whole 办件 as one."""
    codes = fields.matters or ("",)
    out = []
    for code in codes:
        rec = k.first.get(code)
        name = rec["matter_name"] if rec else (code or f"办件 {fields.case_no}")
        out.append(Matter(code, name, (fields.case_no, code, fields.evaluation_no) in k.rated))
    return out


def second_allowed(conn, fields: QrFields, matter_code: str, k: Known) -> bool:
    """May this matter be evaluated a second time: its first evaluation's case
    was rectified (整改结果 recorded), not yet evaluated again, no appeal
    upheld (handling.second_evaluation_allowed decides again when it is stored)."""
    rec = k.first.get(matter_code)
    if rec is None:
        return False
    row = conn.execute(select(cases).where(cases.c.record_id == rec["id"])).first()
    if row is None:
        return False
    m = row._mapping
    return m.get("rectified_at") is not None and not m.get("second_evaluated") and m.get("appeal") != "upheld"


class Refused(Exception):
    """Shown to the citizen; `status` is the HTTP status of the page."""

    def __init__(self, message: str, status: int):
        self.message, self.status = message, status
        super().__init__(message)


def rate(center, fields: QrFields, matter_code: str, rating: str, reasons: list[str],
         comment: str | None = None) -> dict:
    """Store one rating from the page; the stored record. Refused (409) when
    this matter was already rated as this 评价次数."""
    now = center.clock()
    level = scale(SCALE).level(rating)
    with center.engine.begin() as conn:
        k = known(conn, fields)
        decision = may_rate(k.rated, fields.case_no, matter_code, fields.evaluation_no,
                            matters=fields.matters,
                            second_allowed=fields.evaluation_no == 2 and second_allowed(conn, fields, matter_code, k))
        if not decision.allowed:
            raise Refused(decision.reason, 409)
        first = k.first.get(matter_code) or {}
        if fields.evaluation_no == 2:
            case_id = conn.execute(select(cases.c.id).where(cases.c.record_id == first["id"])).scalar_one()
        else:
            rec = _store_first(conn, center, fields, matter_code, level, reasons, comment, first, now)
    if fields.evaluation_no == 2:
        return _second_evaluation(center, fields, matter_code, level, case_id, now)
    log.info("QR rating stored: hall %s, 办件 %s, matter %r, 评价次数 %d, %s", fields.hall_id,
             fields.case_no, matter_code, fields.evaluation_no, level.name)
    return rec


def _store_first(conn, center, fields: QrFields, matter_code: str, level, reasons, comment,
                 first: dict, now) -> dict:
    """评价次数 1: a record of channel qr, written as a tablet's is (statistics, a case)."""
    region = first.get("region_code") or center.cfg.region_code
    if region is None:
        raise Refused("本中心尚未设置行政区划代码，暂时不能评价", 503)
    try:
        with conn.begin_nested():
            rec = _record(center, fields, matter_code, level, reasons, comment, first, region, now)
            rid = conn.execute(insert(qr_ratings).returning(qr_ratings.c.id), dict(
                hall_id=fields.hall_id, case_no=fields.case_no, matter_code=matter_code,
                evaluation_no=fields.evaluation_no, record_id=rec["id"], rated_at=to_db(now))).scalar_one()
    except IntegrityError:
        raise Refused("该事项已经评价过，不能重复评价", 409) from None
    rec = dict(rec, seq=rid)
    check_record(rec, now=now, bounds=center.cfg.record_bounds)
    channels.check("qr_page", rec["channel"])
    _write(conn, center, rec["device_id"], [Verdict(0, rec["id"], "accepted", None, rec)], now, set())
    return rec


QR_ACTOR = Actor("二维码评价", "system")


def _second_evaluation(center, fields: QrFields, matter_code: str, level, case_id: int, now) -> dict:
    """评价次数 2 from the page: the case's 二次评价 (handling's rule, its own
    row linked to the first evaluation, channel qr; a bad one alerts the
    supervisors), not a second record: the statistics count first
    evaluations, the export lists it with 评价次数 2."""
    record_id = str(uuid.uuid4())
    try:
        casework.act(center, case_id, "second_evaluation", QR_ACTOR, rating=level.name, scale=SCALE,
                     record_id=record_id)
    except CaseError as e:
        raise Refused(f"暂时不能再次评价：{e}", 409) from None
    with center.engine.begin() as conn:
        try:
            conn.execute(insert(qr_ratings).values(
                hall_id=fields.hall_id, case_no=fields.case_no, matter_code=matter_code,
                evaluation_no=2, record_id=record_id, rated_at=to_db(now)))
        except IntegrityError:
            raise Refused("该事项已经评价过，不能重复评价", 409) from None
    log.info("QR second evaluation stored: hall %s, 办件 %s, matter %r, case %s, %s", fields.hall_id,
             fields.case_no, matter_code, case_id, level.name)
    return {"id": record_id, "rating": level.name, "evaluation_no": 2, "case_id": case_id}


def _record(center, fields: QrFields, matter_code: str, level, reasons, comment, first: dict,
            region: str, now) -> dict:
    bad = level.bad
    now = in_hall(now)              # the record's times in hall time, as a tablet writes them
    due = center.deadlines.handling(now) if bad else None
    index = (fields.matters.index(matter_code) + 1) if fields.matters else 1
    return new_record(
        device_id=PREFIX + fields.hall_id, region_code=region, hall_id=fields.hall_id,
        window_id=first.get("window_id") or "未知窗口", staff_id=first.get("staff_id", ""),
        staff_name=first.get("staff_name", ""), ticket=first.get("ticket") or fields.case_no[:32],
        case_no=fields.case_no, matter_code=matter_code,
        matter_name=first.get("matter_name") or matter_code or f"办件 {fields.case_no}",
        matter_index=index, matter_count=max(len(fields.matters), 1), scale_size=SCALE,
        prompted_at=now, rating=level.name, voted_at=now, reasons=reasons if bad else (),
        comment=comment if bad else None, due_at=due.due_at if due else None,
        calendar_verified=due.verified if due else None, now=now, channel="qr")
