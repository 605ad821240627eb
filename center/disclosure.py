"""面向社会公开: the rules of the public page, as pure functions (no I/O).

What a month parameter may be, what a supervisor's public summary of a
typical case (典型案例) may not contain, how a case's outcome reads to the
public, and the page's validator (ETag). The page itself is
center/web/public.py; what it publishes and never publishes is DESIGN §13.9.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Iterable

from hallcore.hallclock import from_db, hall_day

from .directory import UNKNOWN, Directory, department_label, in_use, window_label
from .handling import RATING_LABELS

KINDS = {"commendation": "表彰", "notice": "通报"}
LOG_LABELS = {"typical_mark": "标为典型案例", "typical_unmark": "取消典型案例"}    # case_log actions
MAX_SUMMARY = 500
MONTHS_SHOWN = 12               # the month selector offers the last 12 months with data
FIRST_YEAR, LAST_YEAR = 2000, 2100

_MONTH = re.compile(r"([0-9]{4})-(0[1-9]|1[0-2])")


class MonthError(ValueError):
    """A month parameter that is not a month (the page answers 400 with the message)."""


def parse_month(raw: str | None) -> date | None:
    """`YYYY-MM` (ASCII digits, exactly) as the month's first day; None when absent."""
    if raw is None or raw == "":
        return None
    m = _MONTH.fullmatch(raw)
    if m is None or not FIRST_YEAR <= int(m.group(1)) <= LAST_YEAR:
        raise MonthError("月份格式应为“年-月”，如 2026-11")
    return date(int(m.group(1)), int(m.group(2)), 1)


def month_first(d: date) -> date:
    return d.replace(day=1)


def month_last(first: date) -> date:
    """The last day of the month that begins on `first`."""
    return (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)


def month_param(first: date) -> str:
    return f"{first.year:04d}-{first.month:02d}"


def month_label(first: date) -> str:
    return f"{first.year}年{first.month}月"


# ------------------------------------------------------------ the public summary

class SummaryError(ValueError):
    """A summary that may not be saved; the message tells the supervisor why."""


# Chinese numerals as a citizen's number is spoken or typed (一三八…): read as digits.
_CN_DIGITS = str.maketrans("〇零一二三四五六七八九", "00123456789")
_SEP = " \u00a0-\u2010\u2011\u2012\u2013\u2014\u2015.·/"     # between digits of one number: 138-1234-5678
_RUN = re.compile(rf"[0-9](?:[{re.escape(_SEP)}]?[0-9])*")
_DATE = re.compile(r"(?<![0-9])(?:19|20)[0-9]{2}([-./])[0-9]{1,2}\1[0-9]{1,2}(?![0-9])")
MIN_NUMBER_DIGITS = 7           # a 7-digit landline without its area code is already a phone number


@dataclass(frozen=True)
class Finding:
    kind: str          # phone | id_card | number
    text: str          # as written in the summary

    @property
    def label(self) -> str:
        return {"phone": "电话号码", "id_card": "身份证号",
                "number": "证件号、银行卡号或办件编号等号码"}[self.kind]


def _blank_dates(text: str) -> str:
    """Separated calendar dates (2026-11-27, 2026.11.27) blanked out, same length."""
    def blank(m: re.Match) -> str:
        y, mo, d = (int(x) for x in re.split(r"[-./]", m.group(0)))
        try:
            date(y, mo, d)
        except ValueError:
            return m.group(0)
        return "#" * len(m.group(0))
    return _DATE.sub(blank, text)


def personal_numbers(text: str) -> list[Finding]:
    """Digit runs in `text` that look like a phone number, an ID card number
    (15 or 18 digits, or 17 and an X) or another long personal number;
    full-width and Chinese numerals count as digits, and a space, dash, dot
    or slash between digits does not split a run. Separated dates
    (2026-11-27) are not numbers."""
    text = unicodedata.normalize("NFKC", text)      # full-width digits and dashes as ASCII
    scan = _blank_dates(text.translate(_CN_DIGITS))     # same length: positions stay
    out = []
    for m in _RUN.finditer(scan):
        run = m.group(0)
        digits = sum(c.isdigit() for c in run)
        if digits < MIN_NUMBER_DIGITS:
            continue
        end = m.end()
        x = end < len(scan) and scan[end] in "Xx"
        if (digits == 17 and x) or digits in (15, 18):
            kind, end = "id_card", end + (1 if x else 0)
        elif digits <= 12:
            kind = "phone"
        else:
            kind = "number"
        out.append(Finding(kind, text[m.start():end]))
    return out


def _shares_text(summary: str, private: str, run: int = 10) -> bool:
    """Whether the summary copies the private text: all of it (from 6
    characters), or any `run` characters of it in a row."""
    p = "".join(private.split())
    s = "".join(summary.split())
    if len(p) < 6:
        return False
    if len(p) <= run:
        return p in s
    return any(p[i:i + run] in s for i in range(len(p) - run + 1))


def _has_token(text: str, token: str) -> bool:
    """`token` in `text` not glued to other letters or digits (a staff id 1024, not 10240)."""
    return re.search(rf"(?<![0-9A-Za-z]){re.escape(token)}(?![0-9A-Za-z])", text) is not None


def check_summary(text: str, *, comments: Iterable[str] = (), names: Iterable[str] = (),
                  ids: Iterable[str] = ()) -> str:
    """The summary as it is saved (trimmed), or SummaryError naming what is wrong.

    `comments`: the citizen's own words on the case (never published, so never
    copied); `names` and `ids`: staff names and ids the page may not show."""
    s = text.strip()
    if not s:
        raise SummaryError("请填写公开摘要：向社会公开的案例说明")
    if len(s) > MAX_SUMMARY:
        raise SummaryError(f"公开摘要过长（最多 {MAX_SUMMARY} 字，现有 {len(s)} 字）")
    if any(unicodedata.category(c) == "Cc" and c not in "\n\r\t" for c in s):
        raise SummaryError("公开摘要含有控制字符，请重新输入")
    found = personal_numbers(s)
    if found:
        f = found[0]
        raise SummaryError(f"公开摘要不能含有个人信息：“{f.text}”疑似{f.label}，请删去后再保存"
                           "（日期请写成“2026年11月27日”）")
    if any(_shares_text(s, c) for c in comments if c):
        raise SummaryError("公开摘要不能照录群众的留言或点评原文，请用自己的话概括")
    for n in names:
        if n and len(n.strip()) >= 2 and n.strip() in s:
            raise SummaryError(f"本中心不公开工作人员姓名：公开摘要中有“{n.strip()}”，请改为“工作人员”")
    for i in ids:
        if i and len(i) >= 3 and _has_token(s, i):
            raise SummaryError(f"本中心不公开工作人员工号：公开摘要中有“{i}”，请删去")
    return s


def scrub_names(text: str, names: Iterable[str]) -> str:
    """Staff names replaced by 工作人员 (a summary saved while names were
    published stays unpublished once the config stops publishing them)."""
    for n in sorted({n.strip() for n in names if n and len(n.strip()) >= 2}, key=len, reverse=True):
        text = text.replace(n, "工作人员")
    return text


# ------------------------------------------------------------ the outcome

def publishable(kind: str, appeal: str) -> bool:
    """A 通报 names a failing: never of a 差评 that did not stand (appeal upheld)."""
    return not (kind == "notice" and appeal == "upheld")


def outcome(state: str, on_time: bool | None, rectified: bool, appeal: str,
            second_rating: str | None) -> str:
    """How a typical case ended, in the public's words (nothing about who)."""
    if appeal == "upheld":
        return "经复核，差评不成立"
    parts = []
    if state == "closed":
        parts.append({True: "已按时办结", False: "已办结（超期）"}.get(on_time, "已办结"))
    else:
        parts.append("办理中")
    if rectified:
        parts.append("已整改")
    if second_rating:
        parts.append(f"群众二次评价：{RATING_LABELS.get(second_rating, second_rating)}")
    return "，".join(parts)


# ------------------------------------------------------------ what the page shows

def staff_name(d: Directory, key: tuple) -> str:
    """A staff row's public label: the name only, never the id (the
    directory's name, else the one the records carry, else 未登记)."""
    staff_id = key[0]
    if in_use(d) and staff_id in d.staff:
        return d.staff[staff_id].name
    raw = key[1] if len(key) > 1 else ""
    return raw or UNKNOWN


def case_staff_names(d: Directory, staff_id: str, record_name: str | None) -> list[str]:
    """The names a case's staff member goes by (the record's and the directory's)."""
    names = [record_name or ""]
    if staff_id and staff_id in d.staff:
        names.append(d.staff[staff_id].name)
    return [n for n in names if n]


def typical_view(row, d: Directory, *, staff_names: bool) -> dict | None:
    """A typical case as the public sees it, or None if it may not be
    published: department, window, matter, month, kind, the summary and the
    outcome; nothing else of the row leaves this function."""
    if not publishable(row.kind, row.appeal):
        return None
    summary = row.summary
    if not staff_names:
        summary = scrub_names(summary, case_staff_names(d, row.staff_id, row.staff_name))
    return dict(
        kind=row.kind, kind_label=KINDS.get(row.kind, row.kind),
        department=department_label(d, row.window_id, row.department) if row.window_id else row.department or "—",
        window=window_label(d, row.window_id) if row.window_id else "—",
        matter=row.matter_name or "—",
        month=month_label(month_first(hall_day(from_db(row.voted_at)))),
        summary=summary,
        outcome=outcome(row.state, row.on_time, row.rectified_at is not None, row.appeal, row.second_rating))


# ------------------------------------------------------------ validators

def etag_of(body: bytes) -> str:
    """A strong ETag of the page's bytes: every figure, label, month and
    config choice is in them, so any change of data or config changes it."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


__all__ = ["FIRST_YEAR", "case_staff_names", "Finding", "KINDS", "LAST_YEAR", "LOG_LABELS", "MAX_SUMMARY", "MONTHS_SHOWN", "MonthError",
           "SummaryError", "check_summary", "etag_of", "month_first", "month_label",
           "month_last", "month_param", "outcome", "parse_month", "personal_numbers", "publishable",
           "scrub_names", "staff_name", "typical_view"]
