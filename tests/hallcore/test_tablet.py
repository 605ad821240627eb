"""The tables kiosk and agent share (hallcore/tablet.py): [device], [office], [storage]."""
from datetime import datetime, time
from pathlib import Path

import pytest

from hallcore.config import ConfigError
from hallcore.hallclock import DEFAULT_TZ
from hallcore.tablet import KNOWN_TABLES, load_tablet_file
from hallcore.workdays import deadline

from tests.support.tablet_toml import DROP, write_tablet
from tests.support.paths import CONFIG



def load(tmp_path, changes=None):
    return load_tablet_file(write_tablet(tmp_path, changes))[1]


def test_minimal_file_gets_the_defaults(tmp_path):
    t = load(tmp_path)
    assert (t.device_id, t.region_code, t.hall_id, t.window_id) == ("tab-03", "430922", "taojiang", "03")
    assert t.closing == time(17, 30) and t.holiday_file is None and t.timezone is DEFAULT_TZ
    assert t.storage == tmp_path / "var"                     # relative to the config file
    assert t.outbox_folder == tmp_path / "var" / "outbox"
    assert t.journal_path.parent == t.storage


def test_example_and_demo_files_load():
    example = load_tablet_file(CONFIG / "example.toml")[1]
    assert example.holiday_file == CONFIG / "holidays.toml" and example.storage == Path("/var/lib/hall")
    demo = load_tablet_file(CONFIG / "demo.toml")[1]
    assert (demo.device_id, demo.hall_id, demo.window_id) == ("demo-01", "taojiang", "03")
    assert demo.storage.resolve() == (CONFIG.parent / "var" / "demo").resolve()


def test_closing_time_and_holiday_file_reach_the_calendar(tmp_path):
    (tmp_path / "holidays.toml").write_text('[2030]\nholidays = ["2030-01-02"]\n')
    t = load(tmp_path, {"office.closing": "17:00", "office.holiday_file": "holidays.toml"})
    due = deadline(datetime(2030, 1, 1, 10, 0, tzinfo=DEFAULT_TZ), 2,
                   closing=t.closing, calendar=t.calendar)
    assert due.due_at.isoformat() == "2030-01-04T17:00:00+08:00" and due.verified   # 2 Jan is off


@pytest.mark.parametrize("changes,key,fix", [
    ({"device.id": DROP}, "device.id", "add `id"),
    ({"device.id": "tab/03"}, "device.id", "letters, digits"),
    ({"device.window_id": "0 3"}, "device.window_id", "letters, digits"),
    ({"device.hall_id": 7}, "device.hall_id", "quote it"),
    ({"device.region_code": 430922}, "device.region_code", "quote it"),
    ({"device.region_code": "43092"}, "device.region_code", "430922"),
    ({"device.ip": "1.2.3.4"}, "device.ip", "check the spelling"),
    ({"office.closing": "5pm"}, "office.closing", "HH:MM"),
    ({"office.closing": "24:00"}, "office.closing", "HH:MM"),
    ({"office.holiday_file": "nope.toml"}, "office.holiday_file", "fix the path"),
    ({"office.hours": "9-17"}, "office.hours", "check the spelling"),
    ({"office.timezone": "Asia/Beijing"}, "office.timezone", "IANA zone name"),
    ({"office.timezone": "+08:00"}, "office.timezone", "IANA zone name"),
    ({"office.timezone": 8}, "office.timezone", "quote it"),
    ({"storage.folder": DROP}, "storage.folder", "add `folder"),
    ({"storage.folder": "config.toml"}, "storage.folder", "point it at a folder"),
    ({"storage.outbox": "config.toml"}, "storage.outbox", "point it at a folder"),
    ({"kisok.scale": 5}, "kisok", "[device]"),
])
def test_each_bad_value_names_its_key_and_the_fix(tmp_path, changes, key, fix):
    with pytest.raises(ConfigError) as e:
        load(tmp_path, changes)
    assert e.value.key == key and fix in str(e.value)
    assert str(tmp_path / "config.toml") in str(e.value)     # and the file


def test_the_hall_zone_is_an_iana_name(tmp_path):
    t = load(tmp_path, {"office.timezone": "Asia/Urumqi"})
    assert str(t.timezone) == "Asia/Urumqi"
    assert datetime(2026, 11, 27, 15, 0, tzinfo=t.timezone).isoformat() == "2026-11-27T15:00:00+06:00"


def test_a_broken_holiday_file_is_reported_under_office_holiday_file(tmp_path):
    (tmp_path / "holidays.toml").write_text('[2030]\nholidays = ["2031-01-02"]\n')
    with pytest.raises(ConfigError) as e:
        load(tmp_path, {"office.holiday_file": "holidays.toml"})
    assert e.value.key == "office.holiday_file" and "2031-01-02" in str(e.value)


def test_a_top_level_value_that_is_not_a_table_is_rejected(tmp_path):
    path = write_tablet(tmp_path)
    path.write_text("scale = 3\n" + path.read_text())
    with pytest.raises(ConfigError) as e:
        load_tablet_file(path)
    assert e.value.key == "scale"


def test_every_part_s_table_is_known():
    assert set(KNOWN_TABLES) == {"device", "office", "storage", "bundle", "kiosk", "admin", "queue", "center",
                                 "agent"}
