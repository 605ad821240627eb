"""Working days and bad-review deadlines (hallcore/workdays.py, DESIGN.md section 2)."""
import logging
import re
from datetime import date, datetime, time, timedelta, timezone

import chinese_calendar
import pytest

from hallcore.config import ConfigError
from hallcore.hallclock import DEFAULT_TZ
from hallcore.workdays import (
    COORDINATION_WORKDAYS,
    DEFAULT_CLOSING,
    HANDLING_WORKDAYS,
    Deadline,
    WorkCalendar,
    deadline,
    statutory_holidays,
)

from tests.support.paths import CONFIG

SHIPPED = CONFIG / "holidays.toml"


def at(y, m, d, hh=10, mm=0, tz=DEFAULT_TZ):
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def due(y, m, d, hh=17, mm=30, tz=DEFAULT_TZ):
    return datetime(y, m, d, hh, mm, tzinfo=tz)


def write(tmp_path, text, name="holidays.toml"):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


# ---------------------------------------------------------------- constants

def test_constants_match_the_county_rule():
    assert (HANDLING_WORKDAYS, COORDINATION_WORKDAYS) == (2, 7)
    assert DEFAULT_CLOSING == time(17, 30)


# ---------------------------------------------------------- 2026 official data

def test_spring_festival_2026_is_off_and_its_make_up_saturdays_work():
    cal = WorkCalendar()
    for i in range(9):
        assert not cal.is_workday(date(2026, 2, 15) + timedelta(days=i))
    assert cal.is_workday(date(2026, 2, 14)) and cal.is_workday(date(2026, 2, 28))
    assert cal.is_workday(date(2026, 2, 24))  # first day back
    assert cal.is_verified(date(2026, 2, 15))


def test_national_day_2026_is_off_and_its_make_up_weekend_days_work():
    cal = WorkCalendar()
    assert not any(cal.is_workday(date(2026, 10, d)) for d in range(1, 8))
    assert cal.is_workday(date(2026, 9, 20))   # Sunday
    assert cal.is_workday(date(2026, 10, 10))  # Saturday
    assert not cal.is_workday(date(2026, 10, 11))  # ordinary Sunday


# ---------------------------------------------------------- worked examples

@pytest.mark.parametrize("start, expected", [
    (at(2026, 11, 27, 15), due(2026, 12, 1)),   # Friday → Tuesday
    (at(2026, 9, 30, 16), due(2026, 10, 9)),    # before National Day → Friday 10-09
    (at(2026, 2, 13, 10), due(2026, 2, 24)),    # Friday before Spring Festival: Sat 02-14 counts
])
def test_worked_examples_of_the_issue(start, expected):
    d = deadline(start, HANDLING_WORKDAYS)
    assert d == Deadline(expected, True)
    assert d.due_at.tzinfo is start.tzinfo


def test_vote_on_a_saturday_counts_from_sunday():
    # Saturday 2026-11-28: Sunday is off, Monday 1, Tuesday 2.
    assert deadline(at(2026, 11, 28, 9), 2).due_at == due(2026, 12, 1)


def test_vote_after_closing_time_does_not_move_the_start_day():
    # Thursday 2026-11-26 at 20:00: still counted from Friday.
    assert deadline(at(2026, 11, 26, 20), 2).due_at == due(2026, 11, 30)
    assert deadline(at(2026, 11, 26, 9), 2).due_at == due(2026, 11, 30)


def test_vote_on_a_make_up_working_day_is_not_counted_itself():
    # Saturday 2026-02-14 is a working day, but it is the start day.
    assert deadline(at(2026, 2, 14, 10), 1).due_at == due(2026, 2, 24)


def test_seven_working_days_for_coordinated_problems():
    # Friday 2026-11-27: 11-30 .. 12-04 are five, 12-07 six, 12-08 seven.
    assert deadline(at(2026, 11, 27, 15), COORDINATION_WORKDAYS).due_at == due(2026, 12, 8)
    # Across National Day: 09-29 Tue → 09-30 (1), 10-08 (2), 10-09 (3), 10-10 Sat (4), 10-12..10-14 (5..7)
    assert deadline(at(2026, 9, 29, 11), 7).due_at == due(2026, 10, 14)


def test_closing_time_is_configurable_and_timezone_kept():
    d = deadline(datetime(2026, 11, 27, 15, tzinfo=DEFAULT_TZ), 2, closing=time(18, 0))
    assert d.due_at == datetime(2026, 12, 1, 18, 0, tzinfo=DEFAULT_TZ) and d.due_at.tzinfo is DEFAULT_TZ


def test_start_in_another_zone_counts_days_in_that_zone():
    # 2026-11-27 23:30 UTC is Saturday in Beijing, but the start day is read in
    # the start's own zone (Friday), so the caller must pass the hall's local time.
    d = deadline(datetime(2026, 11, 27, 23, 30, tzinfo=timezone.utc), 2)
    assert d.due_at == datetime(2026, 12, 1, 17, 30, tzinfo=timezone.utc)


def test_naive_start_and_bad_workdays_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        deadline(datetime(2026, 11, 27, 15), 2)
    for n in (0, -1, True, 2.0):
        with pytest.raises(ValueError, match="workdays"):
            deadline(at(2026, 11, 27), n)


# ------------------------------------------------- years without official data

def test_vote_on_new_years_eve_2026_crosses_into_unverified_2027():
    # 2027-01-01 元旦 (estimate), 01-02/03 weekend, 01-04 Mon (1), 01-05 Tue (2).
    assert deadline(at(2026, 12, 31, 15), 2, calendar=WorkCalendar()) == Deadline(due(2027, 1, 5), False)
    # A deadline that ends inside 2026 is verified even if 2027 is unknown.
    assert deadline(at(2026, 12, 29, 15), 2).verified is True


def test_override_file_makes_2027_verified_and_adds_a_holiday_and_a_workday(tmp_path):
    cal = WorkCalendar(write(tmp_path, """
[2027]
holidays = ["2027-01-01..2027-01-03", "2027-01-04"]
workdays = ["2027-02-20"]
"""))
    assert cal.is_verified(date(2027, 6, 1)) and not cal.is_verified(date(2028, 1, 3))
    assert not cal.is_workday(date(2027, 1, 4))   # a Monday, made a holiday
    assert cal.is_workday(date(2027, 2, 20))      # a Saturday, made a workday
    assert cal.is_workday(date(2027, 3, 1))       # unlisted Monday stays a workday
    assert not cal.is_workday(date(2027, 10, 1))  # unlisted statutory holiday stays off
    assert deadline(at(2026, 12, 31, 15), 2, calendar=cal) == Deadline(due(2027, 1, 6), True)


def test_override_file_wins_over_official_data(tmp_path):
    cal = WorkCalendar(write(tmp_path, '[2026]\nholidays = ["2026-11-30"]\n'))
    assert deadline(at(2026, 11, 27, 15), 2, calendar=cal).due_at == due(2026, 12, 2)


def test_estimate_has_the_statutory_holidays_of_the_current_rule():
    # 2027: lunar new year 2027-02-06, so 除夕 02-05 .. 初三 02-08.
    days = statutory_holidays(2027)
    assert {date(2027, 2, d) for d in range(5, 9)} <= days
    assert {date(2027, 1, 1), date(2027, 5, 1), date(2027, 5, 2),
            date(2027, 10, 1), date(2027, 10, 2), date(2027, 10, 3)} <= days
    assert date(2027, 4, 5) in days  # 清明
    assert date(2027, 6, 9) in days  # 端午 (lunar 5/5)
    assert date(2027, 9, 15) in days  # 中秋 (lunar 8/15)
    assert len(days) == 13


def test_rule_matches_the_statutory_days_of_official_years():
    # Every statutory day the rule computes is a day off in the official 2025/2026 schedules.
    for year in (2025, 2026):
        assert all(not chinese_calendar.is_workday(d) for d in statutory_holidays(year))


def test_estimated_year_warns_once_per_year(caplog):
    cal = WorkCalendar()
    with caplog.at_level(logging.WARNING, logger="hallcore.workdays"):
        for _ in range(3):
            deadline(at(2027, 3, 1), 7, calendar=cal)
            deadline(at(2027, 12, 30), 2, calendar=cal)  # reaches 2028
    warned = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert [re.search(r"for (\d{4})", m).group(1) for m in warned] == ["2027", "2028"]
    assert "unverified" in warned[0]


def test_override_year_does_not_warn(tmp_path, caplog):
    cal = WorkCalendar(write(tmp_path, '[2027]\nholidays = ["2027-01-04"]\n'))
    with caplog.at_level(logging.WARNING, logger="hallcore.workdays"):
        deadline(at(2027, 3, 1), 7, calendar=cal)
    assert not caplog.records


@pytest.mark.parametrize("year", [2027, 2030, 2099, 2100, 2150, 1990])
def test_never_raises_for_years_without_data(year):
    cal = WorkCalendar()
    d = deadline(at(year, 12, 30, 16), COORDINATION_WORKDAYS, calendar=cal)
    assert d.verified is False and d.due_at.date().weekday() < 5
    assert date(year, 12, 30) < d.due_at.date() < date(year + 1, 1, 31)
    assert not cal.is_workday(date(year, 10, 1))


# ---------------------------------------------------------- the override file

def test_shipped_example_file_loads_and_its_commented_example_matches_2026(tmp_path):
    assert WorkCalendar(SHIPPED).overrides == {}
    lines = SHIPPED.read_text(encoding="utf-8").splitlines()
    example = lines[lines.index("# [2026]"):]
    uncommented = "\n".join(line.removeprefix("# ").removeprefix("#") for line in example)
    cal = WorkCalendar(write(tmp_path, uncommented))
    assert list(cal.overrides) == [2026]
    day = date(2026, 1, 1)
    while day.year == 2026:
        assert cal.is_workday(day) == chinese_calendar.is_workday(day), day
        day += timedelta(days=1)


def test_toml_native_dates_are_accepted(tmp_path):
    cal = WorkCalendar(write(tmp_path, "[2027]\nworkdays = [2027-02-20]\n"))
    assert cal.is_workday(date(2027, 2, 20))


@pytest.mark.parametrize("text, key, hint", [
    ('[2027]\nholidays = ["2027-02-30"]\n', "2027.holidays[0]", "is not a date"),
    ('[2027]\nholidays = ["2027-01-01", "soon"]\n', "2027.holidays[1]", "is not a date"),
    ('[2027]\nholiday = ["2027-01-01"]\n', "2027.holiday", "is not a known key"),
    ('[2027]\nworkdays = "2027-02-20"\n', "2027.workdays", "expected a list"),
    ('[2027]\nworkdays = ["2028-01-02"]\n', "2027.workdays[0]", "move it under [2028]"),
    ('[2027]\nholidays = ["2027-10-07..2027-10-01"]\n', "2027.holidays[0]", "ends before it starts"),
    ('[2027]\nholidays = ["2027-02-20"]\nworkdays = ["2027-02-20"]\n', "2027", "both"),
    ('[calendar]\nyear = 2027\n', "calendar", "is not a known key"),
    ('holidays = ["2027-01-01"]\n', "holidays", "year table"),
])
def test_bad_override_file_names_the_key_and_the_fix(tmp_path, text, key, hint):
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as e:
        WorkCalendar(path)
    assert e.value.key == key and hint in str(e.value) and str(path) in str(e.value)
    assert e.value.fix


def test_missing_or_broken_override_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        WorkCalendar(tmp_path / "nope.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        WorkCalendar(write(tmp_path, "[2027\nholidays = ["))


def test_a_start_at_the_end_of_the_calendar_is_a_clear_error_not_an_overflow():
    # validation refuses such times first; the calendar must still never raise OverflowError
    with pytest.raises(ValueError, match="too close to the end of the calendar"):
        deadline(datetime.fromisoformat("9999-12-31T23:59:59-14:00"), HANDLING_WORKDAYS)
    early = deadline(datetime.fromisoformat("0001-01-01T00:00:00+14:00"), HANDLING_WORKDAYS)
    assert early.due_at.year == 1 and not early.verified
