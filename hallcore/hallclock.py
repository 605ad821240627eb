"""The hall's time zone (DESIGN.md section 6.1): the one place that knows it.

Every time a person reads (logs, `hall-agent status`, CLI output, the kiosk,
the dashboard, the export) is shown in the hall's zone, and every "which
day" question is answered in it, never in the OS zone of the tablet or the
server. Stored times keep the offset they were written with; the center's
own columns are naive UTC (`to_db` / `from_db`).

A process serves one hall, so the zone is set once per process, as TZ sets
a process's local zone: each command reads it from its config (the tablet's
`[office] timezone`, the center's `[center] timezone`) and calls
`set_hall_zone`; until then it is DEFAULT_ZONE.
"""
from __future__ import annotations

import logging
from datetime import date, datetime, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DEFAULT_ZONE = "Asia/Shanghai"
#: Beijing time, the default hall zone (tests and examples build times in it).
DEFAULT_TZ = ZoneInfo(DEFAULT_ZONE)

_zone: tzinfo = DEFAULT_TZ


def zone_named(name: str) -> ZoneInfo:
    """The IANA zone `name` ("Asia/Urumqi"); ValueError saying why it is not one."""
    try:
        return ZoneInfo(name)
    except ZoneInfoNotFoundError:
        raise ValueError(f"{name!r} is not a time zone of the IANA database "
                         f"(or the tzdata package is missing)") from None
    except (ValueError, TypeError) as e:
        raise ValueError(f"{name!r} is not an IANA time zone name ({e})") from None


def hall_zone() -> tzinfo:
    return _zone


def set_hall_zone(zone: tzinfo) -> tzinfo:
    """Make `zone` this process's hall zone; returns the previous one."""
    global _zone
    before, _zone = _zone, zone
    return before


def hall_now() -> datetime:
    """Now, aware, in the hall's zone."""
    return datetime.now(_zone)


def hall_today() -> date:
    return hall_now().date()


def assume_hall(t: datetime) -> datetime:
    """A time without an offset is hall time (queue systems and vendors write
    local times); an aware time is returned as it is."""
    return t.replace(tzinfo=_zone) if t.utcoffset() is None else t


def _in_zone(t: datetime, tz: tzinfo) -> datetime:
    """`t` in `tz`; a ValueError naming the time if it falls off the calendar
    there (year 9999 at -14:00, year 1 at +14:00), never an OverflowError."""
    try:
        return t.astimezone(tz)
    except OverflowError:
        raise ValueError(f"{t.isoformat()} is outside the years 1-9999 in {tz}") from None


def in_hall(t: datetime) -> datetime:
    """The same instant as hall time (a naive `t` is taken as hall time)."""
    return _in_zone(assume_hall(t), _zone)


def hall_day(t: datetime) -> date:
    return in_hall(t).date()


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def to_db(t: datetime) -> datetime:
    """An aware time as the naive UTC the center's tables hold."""
    return _in_zone(t, timezone.utc).replace(tzinfo=None)


def from_db(t: datetime | None) -> datetime | None:
    """A stored naive UTC time as aware hall time."""
    return None if t is None else t.replace(tzinfo=timezone.utc).astimezone(_zone)


def show(t: datetime | None) -> str:
    """2026-11-27 15:00 in hall time, for pages."""
    return "" if t is None else in_hall(t).strftime("%Y-%m-%d %H:%M")


def show_seconds(t: datetime | None) -> str:
    """2026-11-27 15:00:05 in hall time, where seconds matter (ratings seconds apart)."""
    return "" if t is None else in_hall(t).strftime("%Y-%m-%d %H:%M:%S")


def compact(t: datetime | None) -> str:
    """GB/T 39046-2020 评价时间: YYYYMMDDThhmmss in hall time."""
    return "" if t is None else in_hall(t).strftime("%Y%m%dT%H%M%S")


def stamp(t: datetime | None, timespec: str = "seconds") -> str | None:
    """ISO 8601 with the hall's offset, for a line a person reads (status, logs)."""
    return None if t is None else in_hall(t).isoformat(timespec=timespec)


def readable(value: object) -> str:
    """A stored ISO time (any offset) as hall time for a person; anything
    else as it is, or '-' (status files and alerts carry what was written)."""
    try:
        t = datetime.fromisoformat(str(value))
    except ValueError:
        t = None
    if t is None or t.tzinfo is None:
        return str(value or "-")
    return stamp(t)


def log_time(created: float) -> str:
    """A log record's time (epoch seconds) as hall time with milliseconds and offset."""
    return datetime.fromtimestamp(created, _zone).isoformat(timespec="milliseconds")


class HallTimeFormatter(logging.Formatter):
    """A logging.Formatter whose %(asctime)s is hall time with its offset."""

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        t = datetime.fromtimestamp(record.created, _zone)
        return t.strftime(datefmt) if datefmt else t.isoformat(sep=" ", timespec="milliseconds")


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
