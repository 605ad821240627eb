"""综合点评: what staff enter from the 意见箱, the 热线电话 and the 形象监督员,
as pure functions: checking the form into a clean entry, and turning a
negative one (差评) into a case like a tablet's bad review, due 2 working
days after the entry was received (not after it was typed in).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Mapping

from hallcore.hallclock import assume_hall, in_hall
from hallcore.record import MAX_TEXT as MAX_ID_TEXT, is_mobile_phone
from hallcore.workdays import Deadline

from .directory import Directory

SOURCES = {"box": "意见箱", "hotline": "热线电话", "monitor": "形象监督员"}
VERDICTS = {"good": "好评", "neutral": "中评", "bad": "差评"}
NEGATIVE = "bad"
MAX_COMMENT = 2000
MAX_AGE = timedelta(days=366)   # an older date is a typo, not a late entry
CASE_SOURCE = "comment"         # what a case opened from an entry says it came from
_FORM_KEYS = ("source", "verdict", "text", "received_at", "department", "window_id",
              "matter_code", "matter_name", "contact_phone")


@dataclass(frozen=True)
class CommentCheck:
    clean: dict[str, Any] | None     # None when there are errors
    errors: dict[str, str]           # form field → what is wrong (Chinese, shown beside it)


def _choice(value: Any, choices: Mapping[str, str]) -> str | None:
    """A machine value or its label (staff pick 差评 or send `bad`)."""
    if not isinstance(value, str):
        return None
    v = value.strip()
    if v in choices:
        return v
    for key, label in choices.items():
        if v == label:
            return key
    return None


def _time(value: Any) -> datetime | None:
    """A datetime, or the form's "YYYY-MM-DDTHH:MM[:SS]" (hall time unless it has an offset)."""
    if isinstance(value, datetime):
        t = value
    elif isinstance(value, str) and 0 < len(value.strip()) <= 40:
        try:
            t = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    else:
        return None
    return t if t.tzinfo is not None else assume_hall(t)


def _optional(form: Mapping[str, Any], key: str) -> str | None:
    v = form.get(key)
    if v is None:
        return None
    return (v.strip() or None) if isinstance(v, str) else v


def check_comment(form: Mapping[str, Any], *, now: datetime,
                  directory: Directory | None = None) -> CommentCheck:
    """The clean entry, or every error by field. With a directory, a window
    or department must be in it and the window's department fills in."""
    errs: dict[str, str] = {}
    for k in sorted(set(form) - set(_FORM_KEYS)):
        errs[k] = "未知的字段"
    source = _choice(form.get("source"), SOURCES)
    if source is None:
        errs["source"] = "请选择来源：" + "、".join(SOURCES.values())
    verdict = _choice(form.get("verdict"), VERDICTS)
    if verdict is None:
        errs["verdict"] = "请选择评价：好评、中评或差评"
    text = form.get("text")
    text = text.strip() if isinstance(text, str) else ""
    if not text:
        errs["text"] = "请填写点评内容"
    elif len(text) > MAX_COMMENT:
        errs["text"] = f"点评内容过长（最多 {MAX_COMMENT} 字）"
    received = _time(form.get("received_at"))
    if received is None:
        errs["received_at"] = "请填写收到时间，如 2026-11-27 15:00"
    elif received > now:
        errs["received_at"] = "收到时间不能晚于现在"
    elif received < now - MAX_AGE:
        errs["received_at"] = "收到时间早于一年前，请核对"
    fields: dict[str, Any] = {}
    for key, what in (("department", "部门"), ("window_id", "窗口"), ("matter_code", "事项编码"),
                      ("matter_name", "事项名称")):
        v = _optional(form, key)
        if v is not None and not isinstance(v, str):
            errs[key] = f"{what}应为文字"
            v = None
        elif v is not None and len(v) > MAX_ID_TEXT:
            errs[key] = f"{what}过长（最多 {MAX_ID_TEXT} 字）"
            v = None
        fields[key] = v
    phone = _optional(form, "contact_phone")
    if phone is not None and not is_mobile_phone(phone):
        errs["contact_phone"] = "请填写 11 位手机号码，或留空"
    if directory is not None:
        _check_against(directory, fields, errs)
    if errs:
        return CommentCheck(None, errs)
    clean = {"source": source, "verdict": verdict, "negative": verdict == NEGATIVE, "text": text,
             "received_at": received, **fields, "contact_phone": phone}
    return CommentCheck(clean, {})


def _check_against(d: Directory, fields: dict[str, Any], errs: dict[str, str]) -> None:
    win, dep = fields["window_id"], fields["department"]
    if win is not None:
        w = d.windows.get(win)
        if w is None:
            errs["window_id"] = f"窗口 {win} 不在目录中"
            return
        if dep is not None and dep != w.parent:
            errs["department"] = f"窗口 {win} 属于部门 {w.parent}，不属于 {dep}"
            return
        fields["department"] = w.parent
    elif dep is not None and dep not in d.departments:
        errs["department"] = f"部门 {dep} 不在目录中"


def case_fields(clean: Mapping[str, Any], *, handling_due: Callable[[datetime], Deadline]) -> dict[str, Any]:
    """The columns of the case a negative entry opens, like a 差评's: due
    `handling_due(received_at)` (center.deadlines.Deadlines.handling, 2
    working days by the center's calendar). An entry without a window is
    the supervisors' (window_id "")."""
    if not clean.get("negative"):
        raise ValueError("only a negative entry (差评) opens a case")
    received = in_hall(clean["received_at"])
    due = handling_due(received)
    return {"source": CASE_SOURCE, "window_id": clean.get("window_id") or "",
            "department": clean.get("department") or "", "staff_id": "",
            "matter_code": clean.get("matter_code") or "", "state": "new",
            "voted_at": received, "due_at": due.due_at, "calendar_verified": due.verified,
            "appeal": "none", "due_alerted": False, "escalated": False}


def short_text(text: str, limit: int = 60) -> str:
    """The start of an entry's text, for a log line or a list."""
    return text if len(text) <= limit else text[:limit] + "…"


def case_note(clean: Mapping[str, Any], limit: int = 60) -> str:
    """The case log's first line: where the entry came from and its start."""
    return f"综合点评（{SOURCES[clean['source']]}）：{short_text(clean['text'], limit)}"


__all__ = ["CASE_SOURCE", "CommentCheck", "SOURCES", "VERDICTS", "case_fields", "case_note",
           "check_comment", "short_text"]
