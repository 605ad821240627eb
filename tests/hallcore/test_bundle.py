"""hallcore/bundle.py: the bundle's format, its checks (the tablet file's rules),
and what applies with the tablet's own values and pins."""
import base64
import json
import struct
from datetime import date, datetime

import pytest

from hallcore.bundle import (MAX_BUNDLE_BYTES, MAX_PHOTO_BYTES, MAX_STAFF, PINNABLE, BundleError, canonical,
                             kiosk_settings, parse_bundle, seal, staff_cards, work_calendar)
from hallcore.config import ConfigError
from hallcore.hallclock import DEFAULT_TZ
from hallcore.kiosksettings import SETTINGS
from hallcore.tablet import load_tablet_file
from hallcore.workdays import ESTIMATED, HANDLING_WORKDAYS, OFFICIAL, OVERRIDE, WorkCalendar, deadline
from tests.support.bundles import HOLIDAYS_2027, png, resealed, sealed, staff_entry, tampered
from tests.support.tablet_toml import write_tablet

HALL, WINDOW = "taojiang", "03"


def parse(raw):
    return parse_bundle(raw, hall_id=HALL, window_id=WINDOW)


def refused(raw, *words):
    with pytest.raises(BundleError) as e:
        parse(raw)
    for w in words:
        assert w in str(e.value), str(e.value)
    return str(e.value)


def test_a_sealed_bundle_reads_back_with_its_hash_as_version():
    raw = sealed(holidays=HOLIDAYS_2027, kiosk={"timeout_s": 90, "reasons": ["拖拉推诿", "其他"]},
                 staff=[staff_entry("1024", "张三", png(20, 30)), staff_entry("1025", "李四")])
    b = parse(raw)
    env = json.loads(raw)
    assert b.sha256 == env["sha256"] and b.version == b.sha256[:16] == env["version"]
    assert b.etag == f'"{b.sha256}"'
    assert b.kiosk == {"timeout_s": 90, "reasons": ["拖拉推诿", "其他"]}
    assert [(c.id, c.name, c.photo_type) for c in b.staff] == [("1024", "张三", "image/png"), ("1025", "李四", None)]
    assert b.staff[0].photo == png(20, 30)
    assert sorted(b.holidays) == [2027] and date(2027, 2, 14) in b.holidays[2027].workdays
    assert b.holidays_text == HOLIDAYS_2027


def test_the_same_content_seals_to_the_same_bytes_whatever_the_key_order():
    a = seal({"hall_id": HALL, "window_id": WINDOW, "holidays": None, "kiosk": {"scale": 5, "thanks_s": 2},
              "staff": []})
    b = seal({"staff": [], "kiosk": {"thanks_s": 2, "scale": 5}, "holidays": None, "window_id": WINDOW,
              "hall_id": HALL})
    assert a == b


# ------------------------------------------------------------ refused, each kind

def test_a_changed_content_under_the_old_hash_is_refused():
    raw = sealed(kiosk={"timeout_s": 90})
    refused(tampered(raw, lambda env: env["content"]["kiosk"].update(timeout_s=900)), "sha256 mismatch")


def test_a_hash_that_is_no_hash_and_a_version_not_of_it_are_refused():
    raw = sealed()
    refused(tampered(raw, lambda env: env.update(sha256="xyz")), "sha256")
    refused(tampered(raw, lambda env: env.update(version="0" * 16)), "version")


def test_what_is_no_bundle_is_refused():
    refused(b"<html>proxy error</html>", "not JSON")
    refused(b"\xff\xfe", "not JSON")
    refused(b"[]", "expected an object")
    refused(b'{"schema": 1}', "expected an object")
    refused(canonical({"schema": 2, "version": "", "sha256": "", "content": {}}), "schema 2", "update")
    refused(b" " * (MAX_BUNDLE_BYTES + 1), "over")


def test_a_bundle_for_another_window_is_refused():
    refused(sealed(window_id="07"), "window '07'", "this tablet is hall 'taojiang' window '03'")


def test_content_keys_must_be_exactly_the_known_ones():
    refused(resealed(sealed(), lambda c: c.update(extra=1)), "unknown ['extra']")
    refused(resealed(sealed(), lambda c: c.pop("staff")), "missing ['staff']")


def test_holidays_are_read_by_the_override_file_s_parser():
    refused(sealed(holidays="[2027\nholidays = ["), "holidays", "not valid TOML")
    refused(sealed(holidays='[2027]\nholidays = ["2028-01-01"]\n'), "2027.holidays[0]", "not in 2027")
    refused(sealed(holidays='[2027]\nholiday = ["2027-01-01"]\n'), "2027.holiday", "not a known key")
    refused(sealed(holidays='[2027]\nholidays = ["2027-01-04"]\nworkdays = ["2027-01-04"]\n'), "both")
    refused(resealed(sealed(), lambda c: c.update(holidays=7)), "holidays")


def test_staff_entries_are_checked():
    one = staff_entry("1024", "张三")
    refused(sealed(staff=[one, one]), "listed twice")
    refused(sealed(staff=[dict(one, name="")]), "staff[0].name")
    refused(sealed(staff=[dict(one, name="张\n三")]), "staff[0].name")
    refused(sealed(staff=[dict(one, id="x" * 201)]), "staff[0].id")
    refused(sealed(staff=[{"id": "1", "name": "a"}]), "staff[0]")
    refused(sealed(staff=[staff_entry(str(i), f"人{i}") for i in range(MAX_STAFF + 1)]), f"at most {MAX_STAFF}")


def test_photos_must_be_small_png_or_jpeg_images():
    def photo(data, kind="image/png"):
        return [{"id": "1024", "name": "张三", "photo": {"type": kind, "data": base64.b64encode(data).decode()}}]
    refused(sealed(staff=photo(b"GIF89a" + bytes(40))), "no PNG or JPEG")
    refused(sealed(staff=photo(png(20, 20), "image/jpeg")), "photo.type", "image/png")
    bomb = png(3, 3)[:16] + struct.pack(">II", 20000, 20000) + png(3, 3)[24:]
    refused(sealed(staff=photo(bomb)), "20000 x 20000")
    refused(sealed(staff=photo(png(3, 3) + bytes(MAX_PHOTO_BYTES))), "over")
    bad_b64 = [{"id": "1", "name": "a", "photo": {"type": "image/png", "data": "!!!"}}]
    refused(sealed(staff=bad_b64), "not base64")


# ------------------------------------------------------------ with the tablet's values

def test_the_bundle_s_settings_go_over_the_tablet_s_own():
    b = parse(sealed(kiosk={"timeout_s": 90, "scale": 5}))
    s = kiosk_settings({"timeout_s": 45, "thanks_s": 5.0}, b)
    assert (s.timeout_s, s.scale, s.thanks_s, s.reminder_after_s) == (90.0, 5, 5.0, 30.0)


def test_settings_are_bounded_as_in_the_tablet_file():
    for kiosk, words in (({"timeout_s": 5}, "kiosk.timeout_s: 5 is out of range"),
                         ({"timeout_s": 1801}, "out of range"),
                         ({"scale": 4}, "kiosk.scale"),
                         ({"test_mode": "yes"}, "kiosk.test_mode"),
                         ({"reasons": []}, "kiosk.reasons"),
                         ({"reasons": ["a", "a"]}, "twice"),
                         ({"timout_s": 60}, "kiosk.timout_s: is not a known key")):
        with pytest.raises(BundleError) as e:
            kiosk_settings({}, parse(sealed(kiosk=kiosk)))
        assert words in str(e.value), (kiosk, str(e.value))


def test_a_timeout_below_the_tablet_s_reminder_is_refused():
    b = parse(sealed(kiosk={"timeout_s": 20}))
    with pytest.raises(BundleError) as e:
        kiosk_settings({"reminder_after_s": 30}, b)
    assert "kiosk.timeout_s: 20 is not longer than reminder_after_s (30)" in str(e.value)


def test_a_pinned_key_keeps_the_tablet_s_value_or_default():
    b = parse(sealed(kiosk={"timeout_s": 90, "reasons": ["拖拉推诿", "其他"], "test_mode": True}))
    s = kiosk_settings({"timeout_s": 45}, b, frozenset({"timeout_s", "reasons"}))
    assert s.timeout_s == 45.0 and s.test_mode is True
    assert "乱收费" in s.reasons                      # the defaults: the tablet file sets none


def test_a_bad_value_is_refused_even_where_a_pin_hides_it():
    with pytest.raises(BundleError):
        kiosk_settings({"timeout_s": 45}, parse(sealed(kiosk={"timeout_s": 5})), frozenset({"timeout_s"}))


def test_a_bundle_that_only_breaks_with_the_tablet_s_pins_is_refused_saying_so():
    b = parse(sealed(kiosk={"reminder_after_s": 10, "timeout_s": 20}))
    assert kiosk_settings({"reminder_after_s": 30}, b).timeout_s == 20.0     # fine without the pin
    with pytest.raises(BundleError) as e:
        kiosk_settings({"reminder_after_s": 30}, b, frozenset({"reminder_after_s"}))
    assert "pinned" in str(e.value)


def test_the_bundle_s_calendar_replaces_the_tablet_s_unless_pinned():
    local = WorkCalendar()
    b = parse(sealed(holidays=HOLIDAYS_2027))
    cal = work_calendar(local, b)
    assert cal.year_source(2027) == OVERRIDE and cal.year_source(2026) == OFFICIAL
    assert local.year_source(2027) == ESTIMATED
    assert work_calendar(local, b, frozenset({"holidays"})) is local
    assert work_calendar(local, parse(sealed())) is local          # no holidays sent: the tablet's own
    # the tablet's deadline follows: 2027-09-30 (Thu) + 2 working days, 10-01..10-07 off, 10-09 (Sat) worked
    voted = datetime(2027, 9, 30, 10, 0, tzinfo=DEFAULT_TZ)
    assert deadline(voted, HANDLING_WORKDAYS, calendar=cal).due_at.date() == date(2027, 10, 9)
    assert deadline(voted, HANDLING_WORKDAYS, calendar=local).due_at.date() == date(2027, 10, 5)


def test_pinned_staff_shows_none_of_the_center_s():
    b = parse(sealed(staff=[staff_entry("1024", "张三")]))
    assert [c.name for c in staff_cards(b)] == ["张三"]
    assert staff_cards(b, frozenset({"staff"})) == () and staff_cards(None) == ()


# ------------------------------------------------------------ [bundle] pinned in the tablet file

def test_the_tablet_file_pins_known_names(tmp_path):
    _, tablet = load_tablet_file(write_tablet(tmp_path, {"bundle.pinned": ["timeout_s", "holidays"],
                                                         "kiosk.timeout_s": 45}))
    assert tablet.pinned == {"timeout_s", "holidays"}
    assert tablet.kiosk_values == {"timeout_s": 45}
    assert set(PINNABLE) == set(SETTINGS) | {"holidays", "staff"}


def test_an_unknown_pinned_name_is_a_clear_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_tablet_file(write_tablet(tmp_path, {"bundle.pinned": ["timeout_s", "timout_s"]}))
    assert e.value.key == "bundle.pinned[1]"
    assert "'timout_s' is not something the center's bundle sets" in str(e.value)
    assert "timeout_s" in e.value.fix and "holidays" in e.value.fix


def test_an_unknown_key_in_the_bundle_table_is_an_error(tmp_path):
    with pytest.raises(ConfigError) as e:
        load_tablet_file(write_tablet(tmp_path, {"bundle.pinnned": ["scale"]}))
    assert e.value.key == "bundle.pinnned"
