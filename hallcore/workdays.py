"""Working days and bad-review deadlines (DESIGN.md section 2).

A working day is what the State Council's schedule makes one: Monday–Friday
minus statutory holidays, plus declared make-up days (调休上班). Each day's
answer comes from the first source that knows its year:

1. the override file (config/holidays.toml): a year listed there is verified;
   its `workdays` win over its `holidays`, which win over the sources below;
2. the `chinese_calendar` package's official data (verified);
3. an estimate by the current statutory rule, no make-up days (unverified,
   logged once per year), so a year nobody has published yet never raises.

`deadline()` is pure given a calendar; the only I/O is reading the override
file when a WorkCalendar is built.
"""
from __future__ import annotations

import logging
import threading
import tomllib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Mapping

import chinese_calendar
from lunardate import LunarDate

from hallcore.config import ConfigError, load_toml

log = logging.getLogger(__name__)

HANDLING_WORKDAYS = 2        # 处理反馈
COORDINATION_WORKDAYS = 7    # 需协调
DEFAULT_CLOSING = time(17, 30)

# The package's official range, e.g. 2004..2026 in chinesecalendar 1.11.
_OFFICIAL_YEARS = range(min(chinese_calendar.holidays).year, max(chinese_calendar.holidays).year + 1)
_LUNAR_YEARS = range(1900, 2100)   # lunardate's table
_SOLAR_TERM_YEARS = range(1900, 2101)  # chinese_calendar.get_solar_terms
# No real deadline needs more than ~2 calendar days per working day plus the
# longest holiday; a calendar that does is broken, and we stop instead of looping.
_MAX_SLACK_DAYS = 366


@dataclass(frozen=True)
class Deadline:
    due_at: datetime      # tz-aware, same tzinfo as start
    verified: bool        # every day crossed came from official data or the override file


# ---------------------------------------------------------------- the estimate

def _lunar_to_solar(year: int, month: int, day: int) -> date:
    ld = LunarDate(year, month, day)
    # lunardate 0.3 renamed toSolarDate; setup.cfg allows 0.2.2 too.
    return ld.to_solar_date() if hasattr(ld, "to_solar_date") else ld.toSolarDate()


def _qingming(year: int) -> date:
    if year in _SOLAR_TERM_YEARS:
        for day, name in chinese_calendar.get_solar_terms(date(year, 4, 1), date(year, 4, 30)):
            if name == "清明":
                return day
    return date(year, 4, 5)  # outside the formula's range: its usual date


def statutory_holidays(year: int) -> frozenset[date]:
    """The statutory days off of `year` by the current 国务院 rule (全国年节及
    纪念日放假办法, 2024 revision): 元旦 1, 春节 4 (除夕–初三), 清明 1, 劳动节 2,
    端午 1, 中秋 1, 国庆 3. No bridging or make-up days: only the State Council's
    yearly schedule knows those. Lunar holidays are omitted outside lunardate's
    table (1900–2099)."""
    days = {date(year, 1, 1), _qingming(year), date(year, 5, 1), date(year, 5, 2),
            date(year, 10, 1), date(year, 10, 2), date(year, 10, 3)}
    if year in _LUNAR_YEARS:
        new_year = _lunar_to_solar(year, 1, 1)
        days.update(new_year + timedelta(days=i) for i in range(-1, 3))  # 除夕 .. 初三
        days.add(_lunar_to_solar(year, 5, 5))    # 端午
        days.add(_lunar_to_solar(year, 8, 15))   # 中秋
    return frozenset(days)


# ------------------------------------------------------------ the override file

@dataclass(frozen=True)
class YearOverride:
    holidays: frozenset[date]
    workdays: frozenset[date]


def _parse_day(value: Any, year: int, key: str, source: str | None) -> list[date]:
    """One entry: a TOML date, "YYYY-MM-DD", or a range "YYYY-MM-DD..YYYY-MM-DD"."""
    fix = f'write dates of {year} as "{year}-MM-DD" or a range "{year}-MM-DD..{year}-MM-DD"'
    if isinstance(value, date) and not isinstance(value, datetime):
        first = last = value
    elif isinstance(value, str):
        ends = value.split("..")
        try:
            if len(ends) > 2:
                raise ValueError
            first, last = date.fromisoformat(ends[0].strip()), date.fromisoformat(ends[-1].strip())
        except ValueError:
            raise ConfigError(key, f"{value!r} is not a date", fix, source=source) from None
    else:
        raise ConfigError(key, f"{value!r} is not a date", fix, source=source)
    if first.year != year or last.year != year:
        raise ConfigError(key, f"{value!r} is not in {year}", f"move it under [{first.year}]", source=source)
    if last < first:
        raise ConfigError(key, f"range {value!r} ends before it starts", "swap its ends", source=source)
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def parse_overrides(data: Mapping[str, Any], source: str | None = None) -> dict[int, YearOverride]:
    """The override file's tables → {year: YearOverride}. Raises ConfigError
    naming the key (e.g. `2027.holidays[3]`) for anything it cannot use."""
    years: dict[int, YearOverride] = {}
    for name, table in data.items():
        if not (len(name) == 4 and name.isdigit()):
            raise ConfigError(name, "is not a known key (only year tables belong here)",
                              "write a year table such as [2027]", source=source)
        year = int(name)
        if not isinstance(table, Mapping):
            raise ConfigError(name, f"expected a table, got {table!r}", f"write it as [{year}]", source=source)
        lists: dict[str, set[date]] = {"holidays": set(), "workdays": set()}
        for key, values in table.items():
            dotted = f"{year}.{key}"
            if key not in lists:
                raise ConfigError(dotted, "is not a known key",
                                  "use only `holidays = [...]` and `workdays = [...]`", source=source)
            if not isinstance(values, list):
                raise ConfigError(dotted, f"expected a list of dates, got {values!r}",
                                  f'write it as ["{year}-01-01", ...]', source=source)
            for i, v in enumerate(values):
                lists[key].update(_parse_day(v, year, f"{dotted}[{i}]", source))
        both = lists["holidays"] & lists["workdays"]
        if both:
            first = min(both).isoformat()
            raise ConfigError(f"{year}", f"{first} is listed both as a holiday and as a workday",
                              "keep it in one list only", source=source)
        years[year] = YearOverride(frozenset(lists["holidays"]), frozenset(lists["workdays"]))
    return years


def parse_override_text(text: str, source: str | None = None) -> dict[int, YearOverride]:
    """The override file's text (as the center's bundle carries it) → {year:
    YearOverride}, by the same rules as the file; ConfigError if unusable."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ConfigError("(file)", f"the holiday override is not valid TOML ({e})",
                          "fix the syntax at the line named", source=source) from None
    return parse_overrides(data, source=source)


# ------------------------------------------------------------------ the calendar

OVERRIDE, OFFICIAL, ESTIMATED = "override", "official", "estimated"   # year_source()


class WorkCalendar:
    """Which days are working days, and whether we know that officially."""

    def __init__(self, override_file: str | Path | None = None, *,
                 overrides: Mapping[int, YearOverride] | None = None):
        """From the override file, or from overrides already parsed (a bundle's)."""
        self.overrides: dict[int, YearOverride] = dict(overrides or {})
        if override_file is not None:
            path = Path(override_file)
            if not path.is_file():
                raise ConfigError("(file)", f"holiday file {path} does not exist",
                                  "copy config/holidays.toml there or fix the holiday file path",
                                  source=str(path))
            self.overrides = parse_overrides(load_toml(path), source=str(path))
        self._estimates: dict[int, frozenset[date]] = {}
        self._official: dict[date, bool] = {}      # chinese_calendar's answers (each costs a scan of its table)
        self._lock = threading.Lock()

    def is_verified(self, d: date) -> bool:
        return d.year in self.overrides or d.year in _OFFICIAL_YEARS

    def year_source(self, year: int) -> str:
        """Where the year's working days come from: OVERRIDE (the holiday file,
        verified), OFFICIAL (the package's data, verified) or ESTIMATED."""
        if year in self.overrides:
            return OVERRIDE
        return OFFICIAL if year in _OFFICIAL_YEARS else ESTIMATED

    def is_workday(self, d: date) -> bool:
        override = self.overrides.get(d.year)
        if override is not None:
            if d in override.workdays:
                return True
            if d in override.holidays:
                return False
        if d.year in _OFFICIAL_YEARS:
            known = self._official.get(d)
            if known is None:
                known = self._official[d] = chinese_calendar.is_workday(d)
            return known
        return d.weekday() < 5 and d not in self._estimated_holidays(d.year, warn=override is None)

    def _estimated_holidays(self, year: int, *, warn: bool) -> frozenset[date]:
        with self._lock:
            if year not in self._estimates:
                self._estimates[year] = statutory_holidays(year)
                if warn:
                    lunar = "" if year in _LUNAR_YEARS else "; lunar holidays unknown for this year"
                    log.warning("no official holiday schedule for %d: estimating working days as "
                                "Monday-Friday minus statutory holidays (no make-up days%s); deadlines "
                                "in %d are marked unverified. When the State Council publishes the "
                                "schedule, import it: hall-center calendar import NOTICE.txt (or add a "
                                "[%d] table to the holiday file).", year, lunar, year, year)
            return self._estimates[year]


def years_to_check(today: date) -> tuple[int, ...]:
    """The years whose schedule a tablet needs verified: this one, and from
    October (when the State Council publishes it) the next one too."""
    return (today.year, today.year + 1) if today.month >= 10 else (today.year,)


_default_calendar: WorkCalendar | None = None


def default_calendar() -> WorkCalendar:
    """Package data and estimates only (no override file); shared so each year warns once."""
    global _default_calendar
    if _default_calendar is None:
        _default_calendar = WorkCalendar()
    return _default_calendar


def deadline(start: datetime, workdays: int, *, closing: time = DEFAULT_CLOSING,
             calendar: WorkCalendar | None = None) -> Deadline:
    """Due at `closing` on the `workdays`-th working day after the start day.

    The start day is never counted, whatever its time or kind: a vote at
    20:00 or on a Sunday still starts counting the next day."""
    if start.tzinfo is None or start.utcoffset() is None:
        raise ValueError(f"start must be timezone-aware, got {start!r}")
    if isinstance(workdays, bool) or not isinstance(workdays, int) or workdays < 1:
        raise ValueError(f"workdays must be a whole number >= 1, got {workdays!r}")
    calendar = calendar or default_calendar()
    span = 2 * workdays + _MAX_SLACK_DAYS
    if start.date() > date.max - timedelta(days=span):
        # the search would step past 9999-12-31 (OverflowError); no real vote is there
        raise ValueError(f"start {start.isoformat()} is too close to the end of the calendar "
                         f"(year 9999) to count {workdays} working days")
    day, counted, verified = start.date(), 0, True
    for _ in range(span):
        day += timedelta(days=1)
        verified = verified and calendar.is_verified(day)
        if calendar.is_workday(day):
            counted += 1
            if counted == workdays:
                return Deadline(datetime.combine(day, closing, tzinfo=start.tzinfo), verified)
    raise RuntimeError(f"not {workdays} working days in the {span} days "
                       f"after {start.date()}: check the holiday file")
