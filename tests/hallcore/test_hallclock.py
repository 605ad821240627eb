"""The hall's time zone (hallcore/hallclock.py): one module, set once per process."""
import logging
from datetime import date, datetime, timezone

import pytest

from hallcore.hallclock import (DEFAULT_TZ, HallTimeFormatter, assume_hall, compact, from_db, hall_day,
                                hall_now, hall_zone, in_hall, log_time, set_hall_zone, show, stamp, to_db,
                                zone_named)

URUMQI = zone_named("Asia/Urumqi")
# 2026-11-27 07:30 UTC: 15:30 in Beijing, 13:30 in Urumqi
INSTANT = datetime(2026, 11, 27, 7, 30, tzinfo=timezone.utc)


def test_the_default_hall_zone_is_beijing_time():
    assert hall_zone() is DEFAULT_TZ and str(DEFAULT_TZ) == "Asia/Shanghai"
    assert hall_now().utcoffset().total_seconds() == 8 * 3600
    assert stamp(INSTANT) == "2026-11-27T15:30:00+08:00"
    assert show(INSTANT) == "2026-11-27 15:30" and compact(INSTANT) == "20261127T153000"


def test_another_hall_zone_changes_every_time_shown_but_not_the_instant():
    before = set_hall_zone(URUMQI)
    assert before is DEFAULT_TZ
    assert stamp(INSTANT) == "2026-11-27T13:30:00+06:00" and show(INSTANT) == "2026-11-27 13:30"
    assert in_hall(INSTANT) == INSTANT
    assert hall_now().utcoffset().total_seconds() == 6 * 3600
    assert log_time(INSTANT.timestamp()) == "2026-11-27T13:30:00.000+06:00"


def test_which_day_is_answered_in_the_hall_zone():
    late = datetime(2026, 11, 27, 17, 0, tzinfo=timezone.utc)     # Saturday 01:00 in Beijing
    assert hall_day(late) == date(2026, 11, 28)
    set_hall_zone(URUMQI)
    assert hall_day(late) == date(2026, 11, 27)                   # 23:00 Friday in Urumqi


def test_a_time_without_offset_is_hall_time_and_an_aware_one_is_kept():
    naive = datetime(2026, 11, 28, 9, 0)
    assert assume_hall(naive) == datetime(2026, 11, 28, 9, 0, tzinfo=DEFAULT_TZ)
    assert assume_hall(INSTANT) is INSTANT
    set_hall_zone(URUMQI)
    assert assume_hall(naive).isoformat() == "2026-11-28T09:00:00+06:00"


def test_the_centers_columns_are_naive_utc_and_come_back_as_hall_time():
    db = to_db(datetime(2026, 11, 27, 15, 30, tzinfo=DEFAULT_TZ))
    assert db == datetime(2026, 11, 27, 7, 30) and db.tzinfo is None
    assert from_db(db).isoformat() == "2026-11-27T15:30:00+08:00"
    assert from_db(None) is None and show(None) == "" and stamp(None) is None


@pytest.mark.parametrize("name", ["Asia/Shangai", "UTC+8", "Beijing", "../etc/passwd", "/etc/localtime"])
def test_a_name_that_is_not_an_iana_zone_says_so(name):
    with pytest.raises(ValueError, match="time zone"):
        zone_named(name)


def test_log_lines_carry_hall_time_whatever_the_process_zone(monkeypatch):
    import time
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    try:
        record = logging.LogRecord("center", logging.INFO, __file__, 1, "started", (), None)
        record.created = INSTANT.timestamp()
        line = HallTimeFormatter("%(asctime)s %(message)s").format(record)
        assert line == "2026-11-27 15:30:00.000+08:00 started"
    finally:
        monkeypatch.undo()
        time.tzset()
