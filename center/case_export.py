"""Export of the bad-review cases of a period and of their 交办/督办 notices,
as CSV: what a city's 差评 export carries (DESIGN §8.1: 拟办意见, 整改结果,
回复结果, 是否回复, 是否回访, 回访信息) beside the case's own columns, and
GB/T 39046-2020 table 11 (督办内容, 督办发出时间, 监察预警类型代码, 责任部门).

Cells go through export.inert like the records export: staff typed these
texts, and a case note such as "=1+1" must not run in a spreadsheet.
"""
from __future__ import annotations

from datetime import date, timedelta
from typing import Any, Iterator

from sqlalchemy import select

from hallcore.hallclock import from_db, show

from . import casesource, directory_db
from .cases import APPEAL_LABELS, STATE_LABELS
from .channels import label as channel_label
from .db import cases, records, supervisions
from .directory import department_label, staff_label, window_label
from .export import csv_stream, inert
from .handling import RATING_LABELS, VISIT_METHODS
from .stats import day_start_utc

YES_NO = {True: "是", False: "否"}
CASE_FIELDS = ("工单编号", "办件编号", "评价时间", "评价渠道", "满意度", "部门", "窗口", "工作人员",
               "事项", "差评原因", "状态", "办理期限", "办结时间", "是否按时", "当场裁定", "责任部门",
               "交办时间", "督办次数", "最近督办时间", "拟办意见", "整改结果", "整改时间", "回复结果",
               "是否回复", "告知群众时间", "是否回访", "回访信息", "二次评价", "二次评价渠道",
               "二次评价时间", "体制机制问题", "申诉")
SUPERVISION_FIELDS = ("工单编号", "办件编号", "类别", "督办内容", "督办发出时间", "监察预警类型代码",
                      "责任部门", "办理期限", "发出人")


def visit_info(row) -> str:
    """回访信息: method, time and the citizen's satisfaction (and the remark)."""
    if not row.visited:
        return ""
    parts = [VISIT_METHODS.get(row.visit_method, row.visit_method or ""), show(from_db(row.visited_at)),
             "群众" + RATING_LABELS.get(row.visit_satisfaction, row.visit_satisfaction or "")]
    return "，".join(parts) + (f"：{row.visit_note}" if row.visit_note else "")


def case_row(row, d) -> dict[str, Any]:
    """A case read with casesource.case_select: a tablet's bad review, or a
    综合点评 entry's (no record: its source stands as the channel)."""
    rec = row.body or {}
    subj = casesource.subject(row)
    told = row.reply_told_at or row.handled_at
    out = {
        "工单编号": row.id, "办件编号": rec.get("case_no") or "",
        "评价时间": show(from_db(row.voted_at)),
        "评价渠道": channel_label(rec.get("channel")) if row.body is not None else subj["origin"],
        "满意度": rec.get("rating_label") or ("" if row.body is not None else "差评"),
        "部门": department_label(d, row.window_id, row.department),
        "窗口": window_label(d, row.window_id) if row.window_id else "",
        "工作人员": staff_label(d, row.staff_id, subj["staff_name"]) if row.staff_id else "",
        "事项": subj["matter_name"], "差评原因": "；".join(subj["reasons"]),
        "状态": STATE_LABELS.get(row.state, row.state), "办理期限": show(from_db(row.due_at)),
        "办结时间": show(from_db(row.closed_at)),
        "是否按时": "" if row.on_time is None else YES_NO[bool(row.on_time)],
        "当场裁定": YES_NO[bool(row.ruled_on_spot)], "责任部门": row.assigned_department or "",
        "交办时间": show(from_db(row.assigned_at)), "督办次数": row.supervision_count or 0,
        "最近督办时间": show(from_db(row.last_supervised_at)), "拟办意见": row.proposal or "",
        "整改结果": row.rectification or "", "整改时间": show(from_db(row.rectified_at)),
        "回复结果": row.feedback or "", "是否回复": YES_NO[row.feedback is not None],
        "告知群众时间": show(from_db(told)), "是否回访": YES_NO[bool(row.visited)],
        "回访信息": visit_info(row),
        "二次评价": RATING_LABELS.get(row.second_rating, row.second_rating or ""),
        "二次评价渠道": channel_label(row.second_channel) if row.second_channel else "",
        "二次评价时间": show(from_db(row.second_evaluated_at)),
        "体制机制问题": row.structural_note or "" if row.structural else "",
        "申诉": APPEAL_LABELS.get(row.appeal, row.appeal),
    }
    return {k: inert(v) for k, v in out.items()}


def _cases(engine, start: date, end: date, window_id: str | None) -> Iterator[dict[str, Any]]:
    q = (casesource.case_select()
         .where(cases.c.voted_at >= day_start_utc(start),
                cases.c.voted_at < day_start_utc(end + timedelta(days=1)))
         .order_by(cases.c.voted_at, cases.c.id))
    if window_id is not None:
        q = q.where(cases.c.window_id == window_id)
    with engine.connect() as conn:
        d = directory_db.load(conn)
        for r in conn.execution_options(yield_per=500).execute(q):
            yield case_row(r, d)


def cases_csv(engine, start: date, end: date, window_id: str | None = None) -> Iterator[str]:
    """The cases opened by evaluations of days start..end (hall time)."""
    return csv_stream(CASE_FIELDS, _cases(engine, start, end, window_id))


def _supervisions(engine, start: date, end: date, window_id: str | None) -> Iterator[dict[str, Any]]:
    q = (select(supervisions, cases.c.window_id, records.c.body)
         .join(cases, cases.c.id == supervisions.c.case_id)
         .outerjoin(records, records.c.id == cases.c.record_id)     # an entry's case has none
         .where(supervisions.c.issued_at >= day_start_utc(start),
                supervisions.c.issued_at < day_start_utc(end + timedelta(days=1)))
         .order_by(supervisions.c.issued_at, supervisions.c.id))
    if window_id is not None:
        q = q.where(cases.c.window_id == window_id)
    with engine.connect() as conn:
        for r in conn.execution_options(yield_per=500).execute(q):
            yield {k: inert(v) for k, v in {
                "工单编号": r.case_id, "办件编号": (r.body or {}).get("case_no") or "",
                "类别": "交办" if r.kind == "assign" else "督办", "督办内容": r.content,
                "督办发出时间": show(from_db(r.issued_at)), "监察预警类型代码": r.warning_code or "",
                "责任部门": r.department, "办理期限": show(from_db(r.due_at)), "发出人": r.actor}.items()}


def supervisions_csv(engine, start: date, end: date, window_id: str | None = None) -> Iterator[str]:
    """The 交办 and 督办 notices issued on days start..end (GB/T 39046 table 11)."""
    return csv_stream(SUPERVISION_FIELDS, _supervisions(engine, start, end, window_id))


__all__ = ["CASE_FIELDS", "SUPERVISION_FIELDS", "case_row", "cases_csv", "supervisions_csv",
           "visit_info"]
