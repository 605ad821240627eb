"""Hall time: the center stores naive UTC and shows China Standard Time.

China has no daylight saving, so a fixed +08:00 offset is exact.
"""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

HALL_TZ = timezone(timedelta(hours=8), "CST")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def to_db(t: datetime) -> datetime:
    """An aware time as the naive UTC the tables hold."""
    return t.astimezone(timezone.utc).replace(tzinfo=None)


def from_db(t: datetime | None) -> datetime | None:
    """A stored naive UTC time as aware hall time."""
    return None if t is None else t.replace(tzinfo=timezone.utc).astimezone(HALL_TZ)


def hall_day(t: datetime) -> date:
    return t.astimezone(HALL_TZ).date()


def show(t: datetime | None) -> str:
    """2026-11-27 15:00 in hall time, for pages."""
    return "" if t is None else t.astimezone(HALL_TZ).strftime("%Y-%m-%d %H:%M")


def compact(t: datetime | None) -> str:
    """GB/T 39046-2020 评价时间: YYYYMMDDThhmmss in hall time."""
    return "" if t is None else t.astimezone(HALL_TZ).strftime("%Y%m%dT%H%M%S")


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
