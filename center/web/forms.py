"""Reading the dashboard's form fields: text, dates, hall times, yes/no. A
value that is not what the field takes raises CaseError with the reason,
shown on the page like a rule's refusal.

Dates are shown as 2026年12月2日 (`day_text`, whatever the browser's
locale) and read by `parse_day` alone: that form, 2026-12-02 (what links
and older bookmarks carry), 2026/12/2, 2026.12.2 and 20261202."""
from __future__ import annotations

import re
from datetime import date, datetime, time

from hallcore.hallclock import assume_hall

from ..cases import CaseError

MAX_FIELD = 40     # a date or time field is short; anything longer is not one
DAY_EXAMPLE = "2026年12月2日 或 2026-12-02"
_DAY = re.compile(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?|(\d{4})(\d{2})(\d{2})")


def parse_day(value: str) -> date:
    """A date as typed or sent; ValueError if it is none (or no real day)."""
    v = (value or "").strip()
    m = _DAY.fullmatch(v) if len(v) <= MAX_FIELD else None
    if m is None:
        raise ValueError(f"not a date: {v!r}")
    y, mo, d = (int(x) for x in (m.group(1, 2, 3) if m.group(1) else m.group(4, 5, 6)))
    return date(y, mo, d)


def day_text(d: date | None) -> str:
    """2026年12月2日 (no leading zeros), as the date fields show a day."""
    return "" if d is None else f"{d.year}年{d.month}月{d.day}日"


def text(value: str | None) -> str | None:
    """A text field: None when left empty (the rule decides whether it may be)."""
    v = (value or "").strip()
    return v or None


def _parse(value: str | None, parse, what: str, example: str):
    v = (value or "").strip()
    if not v:
        return None
    try:
        if len(v) > MAX_FIELD:
            raise ValueError(v)
        return assume_hall(parse(v))
    except ValueError:
        raise CaseError(f"{what}格式应为 {example}") from None


def hall_time(value: str | None, what: str) -> datetime | None:
    """A datetime-local field ("YYYY-MM-DDTHH:MM"), as hall time; None if empty."""
    return _parse(value, datetime.fromisoformat, what, "年-月-日 时:分，如 2026-12-01 17:30")


def hall_date_at(value: str | None, at: time, what: str) -> datetime | None:
    """A date field (`parse_day`) as that day at `at` (hall time); None if empty."""
    return _parse(value, lambda v: datetime.combine(parse_day(v), at), what, DAY_EXAMPLE)


def yes_no(value: str | None, what: str) -> bool:
    if value in ("yes", "no"):
        return value == "yes"
    raise CaseError(f"请选择{what}")


__all__ = ["DAY_EXAMPLE", "day_text", "hall_date_at", "hall_time", "parse_day", "text", "yes_no"]
