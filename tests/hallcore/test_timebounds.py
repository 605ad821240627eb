"""The one rule for plausible times (hallcore/timebounds.py)."""
from datetime import date, datetime, timedelta, timezone

import pytest

from hallcore import RELEASE_DATE
from hallcore.timebounds import DEFAULT_BOUNDS, EARLIEST, TimeBounds, clock_problem, released

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 27, 15, 0, tzinfo=CST)


def test_a_time_before_the_national_rule_is_out_of_bounds():
    assert DEFAULT_BOUNDS.problem(datetime(2019, 12, 1, 0, 0, tzinfo=CST), NOW) is None
    problem = DEFAULT_BOUNDS.problem(datetime(2019, 11, 30, 23, 59, tzinfo=CST), NOW)
    assert problem == "a time not before 2019-12-01T00:00:00+08:00"
    # the same instant written in another zone is judged as that instant
    assert DEFAULT_BOUNDS.problem(datetime(2019, 11, 30, 16, 0, tzinfo=timezone.utc), NOW) is None


def test_a_time_more_than_a_day_past_the_checking_clock_is_out_of_bounds():
    assert DEFAULT_BOUNDS.problem(NOW + timedelta(days=1), NOW) is None
    problem = DEFAULT_BOUNDS.problem(NOW + timedelta(days=1, seconds=1), NOW)
    assert "at most 1 day(s) after the clock that checks it (2026-11-27T15:00:00+08:00)" in problem
    assert DEFAULT_BOUNDS.problem(NOW + timedelta(days=20), NOW, extra=timedelta(days=31)) is None
    assert DEFAULT_BOUNDS.problem(NOW + timedelta(days=3650), None) is None   # no clock: earliest only


def test_bounds_are_configurable_and_checked():
    b = TimeBounds(earliest=datetime(2024, 1, 1, tzinfo=CST), ahead=timedelta(hours=2))
    assert b.problem(datetime(2023, 12, 31, tzinfo=CST), NOW) is not None
    assert "at most 2 hour(s)" in b.problem(NOW + timedelta(hours=3), NOW)
    with pytest.raises(ValueError, match="timezone-aware"):
        TimeBounds(earliest=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="negative"):
        TimeBounds(ahead=timedelta(hours=-1))


def test_extreme_years_compare_without_overflow():
    far = datetime.fromisoformat("9999-12-31T23:59:59-14:00")
    first = datetime.fromisoformat("0001-01-01T00:00:00+14:00")
    assert DEFAULT_BOUNDS.problem(far, NOW) is not None
    assert DEFAULT_BOUNDS.problem(first, NOW) is not None


def test_a_clock_before_the_release_is_plainly_wrong():
    release = released()
    assert clock_problem(datetime.combine(release, datetime.min.time(), CST)) is None
    problem = clock_problem(datetime(2000, 1, 1, 8, 0, tzinfo=CST))   # an RTC reset
    assert problem.startswith("the clock says 2000-01-01T08:00:00+08:00, before " + RELEASE_DATE)
    assert clock_problem(datetime(2026, 5, 1, tzinfo=CST), release=date(2026, 6, 1)) is not None
    assert clock_problem(NOW) is None


def test_the_release_date_is_a_real_past_day_after_the_earliest_record_time():
    # a release date in the future would stop every kiosk; one before the rule is useless
    assert EARLIEST.date() <= released() <= date.today()
