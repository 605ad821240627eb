"""Reading the dashboard's form fields: text, hall times, yes/no. A value
that is not what the field takes raises CaseError with the reason, shown
on the page like a rule's refusal."""
from __future__ import annotations

from datetime import date, datetime, time

from hallcore.hallclock import assume_hall

from ..cases import CaseError

MAX_FIELD = 40     # a date or time field is short; anything longer is not one


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
    """A date field ("YYYY-MM-DD") as that day at `at` (hall time); None if empty."""
    return _parse(value, lambda v: datetime.combine(date.fromisoformat(v), at), what,
                  "年-月-日，如 2027-03-31")


def yes_no(value: str | None, what: str) -> bool:
    if value in ("yes", "no"):
        return value == "yes"
    raise CaseError(f"请选择{what}")


__all__ = ["hall_date_at", "hall_time", "text", "yes_no"]
