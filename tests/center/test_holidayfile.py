"""Writing a notice's year into the override file's text (center/holidayfile.py): other
years and comments kept, the file read back the way WorkCalendar reads it."""
import tomllib
from datetime import date

import pytest

from center.holidayfile import HolidayFileError, describe_changes, plan_import, read_years
from hallcore.holidaynotice import parse_notice
from hallcore.workdays import YearOverride, parse_overrides
from tests.support.notices import HYPOTHETICAL_2027, HYPOTHETICAL_2030, notice_text
from tests.support.paths import CONFIG

SHIPPED = (CONFIG / "holidays.toml").read_text(encoding="utf-8")
NOTICE_2027 = parse_notice(HYPOTHETICAL_2027.read_text(encoding="utf-8"))
HAND_WRITTEN_2028 = """
# 2028, typed in by hall IT from the notice
[2028]
holidays = ["2028-01-01"]   # 元旦
workdays = []
"""


def plan(text, notice=NOTICE_2027, known=lambda year: year <= 2026):
    return plan_import(text, notice, source="holidays.toml", verified_elsewhere=known)


def years(text):
    return parse_overrides(tomllib.loads(text))


def test_the_shipped_file_keeps_every_comment_and_gains_the_year():
    p = plan(SHIPPED)
    assert p.text.startswith(SHIPPED)                 # the commented file, byte for byte
    assert years(p.text) == {2027: YearOverride(NOTICE_2027.holidays(), NOTICE_2027.workdays())}
    assert '    "2027-02-05..2027-02-12",  # 春节\n' in p.text
    assert '    "2027-01-31",  # 周日, for 春节\n' in p.text
    assert p.changed and p.changes[0].before is None and p.replaced == ()


def test_importing_again_replaces_only_that_years_block():
    first = plan(SHIPPED + HAND_WRITTEN_2028).text
    assert not plan(first).changed                    # the same notice again: nothing to write
    corrected = parse_notice(HYPOTHETICAL_2027.read_text(encoding="utf-8")
                             .replace("至3日（周日）放假，共3天", "至2日（周六）放假，共2天"))
    again = plan(first, corrected)
    assert again.text.startswith(SHIPPED + HAND_WRITTEN_2028)     # 2028 and every comment untouched
    assert years(again.text)[2027].holidays == corrected.holidays()
    assert again.changes[0].lines() == [("- off", date(2027, 1, 3))]
    assert again.replaced[0].startswith("the imported [2027] block at lines")


def test_a_hand_written_table_of_the_year_is_replaced_and_the_next_tables_comment_kept():
    hand = ("# top\n[2027]\nholidays = [\n  \"2027-01-01\",\n]\n\n# the 2028 table below is checked\n"
            + HAND_WRITTEN_2028.lstrip("\n"))
    p = plan(hand)
    assert p.text.startswith("# top\n# >>> [2027]")
    assert "# the 2028 table below is checked\n# 2028, typed in" in p.text
    assert years(p.text)[2028] == years(hand)[2028]
    assert p.replaced == ("the hand-written [2027] table at lines 2–5 (its comments too)",)
    assert ("- off", date(2027, 1, 1)) not in p.changes[0].lines()   # still off: the notice has it too


def test_a_form_the_import_cannot_edit_is_refused_not_mangled():
    inline = '"2027" = { holidays = ["2027-01-01"] }\n'
    with pytest.raises(HolidayFileError, match="cannot edit holidays.toml safely"):
        plan(inline)
    with pytest.raises(HolidayFileError, match="has no end line '# <<< \\[2027\\]'"):
        plan(plan(SHIPPED).text.replace("# <<< [2027]", ""))


def test_crlf_files_stay_crlf_and_a_missing_file_gets_a_header():
    p = plan(SHIPPED.replace("\n", "\r\n"))
    assert "\n" not in p.text.replace("\r\n", "")
    new = plan(None)
    assert new.text.startswith("# Holiday override file") and 2027 in years(new.text)


def test_a_new_years_day_from_the_december_before_goes_into_that_year():
    notice = parse_notice(HYPOTHETICAL_2030)     # 元旦 2029-12-30..2030-01-01, 上班 2029-12-29
    with pytest.raises(HolidayFileError, match="in 2029, which neither holidays.toml nor the calendar package"):
        plan(None, notice)                      # a [2029] of three days would mark all of 2029 official
    known = plan(None, notice, known=lambda year: year == 2029)
    assert years(known.text)[2029] == YearOverride(frozenset({date(2029, 12, 30), date(2029, 12, 31)}),
                                                   frozenset({date(2029, 12, 29)}))
    held = '[2029]\nholidays = ["2029-10-01..2029-10-07"]\n'
    merged = years(plan(held, notice).text)[2029]
    assert merged.holidays == years(held)[2029].holidays | {date(2029, 12, 30), date(2029, 12, 31)}
    assert merged.workdays == {date(2029, 12, 29)}
    assert '"2029-10-01..2029-10-07",  # kept from the file' in plan(held, notice).text


def test_the_diff_names_each_changed_day():
    first = plan(SHIPPED).text
    changed = parse_notice(HYPOTHETICAL_2027.read_text(encoding="utf-8")
                           .replace("1月31日（周日）、", ""))
    lines = describe_changes(plan(first, changed), "holidays.toml", estimated=lambda y: True)
    assert lines[:2] == ["holidays.toml [2027] changes:", "  - 上班 2027-01-31 周日"]
    new = describe_changes(plan(SHIPPED), "holidays.toml", estimated=lambda y: True)
    assert new[0].startswith("holidays.toml has no [2027] table (2027 is estimated today")


def test_a_broken_file_is_reported_before_anything_is_planned():
    with pytest.raises(HolidayFileError, match="is not valid TOML"):
        read_years("[2027\n", "holidays.toml")
    with pytest.raises(ValueError, match="2026.holidays\\[0\\]"):
        plan('[2026]\nholidays = ["soon"]\n', parse_notice(notice_text(2026)))
