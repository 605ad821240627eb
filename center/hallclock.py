"""Hall time: the center stores naive UTC and shows China Standard Time.

China has no daylight saving, so a fixed +08:00 offset is exact.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

HALL_TZ = timezone(timedelta(hours=8), "CST")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def _in_zone(t: datetime, tz: timezone) -> datetime:
    """`t` in `tz`; a ValueError naming the time if it falls off the calendar
    there (year 9999 at -14:00, year 1 at +14:00), never an OverflowError."""
    try:
        return t.astimezone(tz)
    except OverflowError:
        raise ValueError(f"{t.isoformat()} is outside the years 1-9999 in {tz}") from None


def to_db(t: datetime) -> datetime:
    """An aware time as the naive UTC the tables hold."""
    return _in_zone(t, timezone.utc).replace(tzinfo=None)


def from_db(t: datetime | None) -> datetime | None:
    """A stored naive UTC time as aware hall time."""
    return None if t is None else t.replace(tzinfo=timezone.utc).astimezone(HALL_TZ)


def hall_day(t: datetime) -> date:
    return _in_zone(t, HALL_TZ).date()


def show(t: datetime | None) -> str:
    """2026-11-27 15:00 in hall time, for pages."""
    return "" if t is None else _in_zone(t, HALL_TZ).strftime("%Y-%m-%d %H:%M")


def compact(t: datetime | None) -> str:
    """GB/T 39046-2020 评价时间: YYYYMMDDThhmmss in hall time."""
    return "" if t is None else _in_zone(t, HALL_TZ).strftime("%Y%m%dT%H%M%S")


def countdown(due: datetime, now: datetime) -> tuple[str, bool]:
    """('剩余 1天3小时', False) or ('已超期 5小时', True)."""
    delta = due - now
    overdue = delta.total_seconds() < 0
    secs = int(abs(delta.total_seconds()))
    days, rem = divmod(secs, 86400)
    hours, rem = divmod(rem, 3600)
    minutes = rem // 60
    parts = (f"{days}天" if days else "") + (f"{hours}小时" if hours or days else "") + f"{minutes}分"
    return ("已超期 " if overdue else "剩余 ") + parts, overdue
