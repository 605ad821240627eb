"""Reading the State Council's holiday notice (hallcore/holidaynotice.py, DESIGN.md §8.5).

The proof that the parser reads notices right: the 2024, 2025 and 2026
notices, as published, give exactly the holidays and make-up days that the
chinesecalendar package carries as official for those years, festival by
festival."""
from datetime import date, timedelta

import chinese_calendar
import pytest
from hypothesis import given, settings, strategies as st

from hallcore.holidaynotice import NoticeError, parse_notice
from tests.support.notices import HYPOTHETICAL_2030, notice_text

# The package's English names for the notices' holidays.
PACKAGE_NAMES = {"元旦": "New Year's Day", "春节": "Spring Festival", "清明节": "Tomb-sweeping Day",
                 "劳动节": "Labour Day", "端午节": "Dragon Boat Festival", "中秋节": "Mid-autumn Festival",
                 "国庆节": "National Day"}


def days(first: str, last: str | None = None) -> set[date]:
    a = date.fromisoformat(first)
    b = date.fromisoformat(last or first)
    return {a + timedelta(days=i) for i in range((b - a).days + 1)}


@pytest.mark.parametrize("year", [2024, 2025, 2026])
def test_a_published_notice_gives_the_packages_official_schedule(year):
    notice = parse_notice(notice_text(year))
    assert notice.year == year
    assert notice.holidays() == {d for d in chinese_calendar.holidays if d.year == year}
    assert notice.workdays() == {d for d in chinese_calendar.workdays if d.year == year}
    for festival in notice.festivals:     # each day belongs to the festival the package names
        names = {PACKAGE_NAMES[n] for n in festival.name.split("、")}
        for d in festival.days:
            assert chinese_calendar.get_holiday_detail(d) in {(True, n) for n in names}, (festival.name, d)
        for d in festival.workdays:
            assert not chinese_calendar.is_holiday(d) and chinese_calendar.is_workday(d)
            assert chinese_calendar.get_holiday_detail(d) in {(False, n) for n in names}, (festival.name, d)


def test_the_2026_notice_item_by_item():
    notice = parse_notice(notice_text(2026))
    assert (notice.title, notice.published) == ("国务院办公厅关于2026年部分节假日安排的通知", date(2025, 11, 4))
    got = [(f.number, f.name, f.first, f.last, f.workdays, f.line_no) for f in notice.festivals]
    assert got == [
        (1, "元旦", date(2026, 1, 1), date(2026, 1, 3), (date(2026, 1, 4),), 7),
        (2, "春节", date(2026, 2, 15), date(2026, 2, 23), (date(2026, 2, 14), date(2026, 2, 28)), 9),
        (3, "清明节", date(2026, 4, 4), date(2026, 4, 6), (), 11),
        (4, "劳动节", date(2026, 5, 1), date(2026, 5, 5), (date(2026, 5, 9),), 13),
        (5, "端午节", date(2026, 6, 19), date(2026, 6, 21), (), 15),
        (6, "中秋节", date(2026, 9, 25), date(2026, 9, 27), (), 17),
        (7, "国庆节", date(2026, 10, 1), date(2026, 10, 7), (date(2026, 9, 20), date(2026, 10, 10)), 19),
    ]
    assert notice.years() == (2026,) and notice.notes == ()


def test_the_2025_notice_single_day_and_a_joint_holiday():
    notice = parse_notice(notice_text(2025))
    new_year, *_, national = notice.festivals
    assert (new_year.first, new_year.last, new_year.workdays) == (date(2025, 1, 1), date(2025, 1, 1), ())
    assert national.name == "国庆节、中秋节" and len(national.days) == 8
    assert notice.published == date(2024, 11, 12)


def test_the_2024_notice_wrapped_title_no_weekdays_and_advice():
    notice = parse_notice(notice_text(2024))
    assert notice.title == "国务院办公厅关于2024年部分节假日安排的通知"   # written over two lines
    assert notice.festivals[0].days == (date(2024, 1, 1),)                  # 1月1日放假，与周末连休
    # 鼓励…在除夕（2月9日）休息 is advice: 2月9日 stays a working day, and the operator is shown it.
    assert date(2024, 2, 9) not in notice.holidays()
    assert [n.split(":")[0] for n in notice.notes] == ["春节"]


def test_every_tricky_form_of_a_hypothetical_notice():
    notice = parse_notice(HYPOTHETICAL_2030)
    assert notice.year == 2030 and notice.published == date(2029, 11, 1)
    assert [(f.name, f.first, f.last, f.workdays) for f in notice.festivals] == [
        ("元旦", date(2029, 12, 30), date(2030, 1, 1), (date(2029, 12, 29),)),
        ("春节", date(2030, 2, 2), date(2030, 2, 9), (date(2030, 2, 10),)),
        ("清明节", date(2030, 4, 5), date(2030, 4, 5), ()),
        ("劳动节", date(2030, 5, 1), date(2030, 5, 1), ()),
        ("端午节", date(2030, 6, 5), date(2030, 6, 5), ()),
        ("中秋节", date(2030, 9, 12), date(2030, 9, 12), ()),
        ("国庆节", date(2030, 9, 30), date(2030, 10, 8), (date(2030, 9, 29), date(2030, 10, 12))),
    ]
    assert notice.years() == (2029, 2030)       # the December before holds 3 of its days
    assert notice.holidays() == (days("2029-12-30", "2030-01-01") | days("2030-02-02", "2030-02-09")
                                 | days("2030-04-05") | days("2030-05-01") | days("2030-06-05")
                                 | days("2030-09-12") | days("2030-09-30", "2030-10-08"))


def test_a_new_years_range_written_with_years_and_one_that_rolls_forward():
    title = "国务院办公厅关于2019年部分节假日安排的通知\n"
    written = parse_notice(title + "一、元旦：2018年12月30日至2019年1月1日放假调休，共3天。"
                                   "2018年12月29日（星期六）上班。\n")
    assert (written.festivals[0].first, written.festivals[0].workdays) == (date(2018, 12, 30), (date(2018, 12, 29),))
    forward = parse_notice(title + "一、元旦：2018年12月30日至1月1日放假，共3天。\n")
    assert forward.festivals[0].last == date(2019, 1, 1)


# ------------------------------------------------------------------ errors

def edited_2026(old: str, new: str) -> str:
    text = notice_text(2026)
    assert old in text
    return text.replace(old, new, 1)


@pytest.mark.parametrize("old, new, line, problem", [
    # a typo in a weekday: the check that catches a wrong date in the notice or here
    ("1月1日（周四）", "1月1日（周五）", 7, "1月1日 (2026-01-01) is a 周四, the notice says 周五"),
    ("至23日（农历正月初七、周一）", "至23日（农历正月初七、周二）", 9, "is a 周一, the notice says 周二"),
    ("农历腊月二十八", "农历腊月二十七", 9, "is not 农历腊月二十七 (it is lunar month 12, day 28)"),
    ("共3天。1月4日", "共4天。1月4日", 7, "共4天 does not match 2026-01-01 to 2026-01-03, which is 3 days"),
    ("5月9日（周六）上班", "5月8日上班", 13, "make-up working day 5月8日 (2026-05-08) is a 周五"),
    ("1月4日（周日）上班", "1月3日（周六）上班", 7, "make-up working day 2026-01-03 is a day off for 元旦"),
    ("6月19日（周五）至21日（周日）", "6月19日（周五）至7月30日", 15, "2026-06-19 to 2026-07-30 is 42 days"),
    ("至21日（周日）", "至2月30日", 15, "2026年2月30日 is not a date"),
    ("6月19日（周五）至21日（周日）", "6月19日（周五）至18日", 15, "ends before it starts (name the end's month)"),
    ("五、端午节：6月19日（周五）至21日（周日）", "五、端午节：5月1日至3日", 15, "2026-05-01 is already off for 劳动节"),
    ("至6日（周一）放假，", "至6日（周一）休息，", 11, "must say when it is 放假"),
    ("至6日（周一）放假，共3天。", "至6日（周一）放假，共3天，另行通知。", 11, "cannot read 「另行通知」"),
    ("至6日（周一）放假，", "至6日（周一）放假调休，", 11, "says 放假调休 but names no make-up working day"),
    ("至6日（周一）放假，共3天。", "至6日（周一）放假，共3天。4月12日（周日）上班。", 11,
     "names make-up working days (上班) but says 放假, not 放假调休"),
    ("（周五）至27日", "（周五，晴）至27日", 17, "cannot read 「晴」 in the parentheses"),
    ("10月10日（周六）上班", "2027年1月2日（周六）上班", 19, "2027-01-02 is outside 2026"),
    ("三、清明节", "四、清明节", 11, "item 四 where item 三 was expected"),
    ("共3天。1月4日（周日）上班。", "共3天。\n1月4日（周日）上班。", 8, "reads like part of a holiday item"),
    ("元旦：", "元旦", 7, "an item line must read <序号>、<节日>：<dates>放假"),
])
def test_a_bad_item_line_is_an_error_naming_the_line(old, new, line, problem):
    with pytest.raises(NoticeError) as caught:
        parse_notice(edited_2026(old, new))
    assert isinstance(caught.value, ValueError)
    assert caught.value.line_no == line
    assert problem in str(caught.value)
    assert str(caught.value).startswith(f"line {line}: ")


def test_a_notice_without_its_title_or_items_is_refused():
    with pytest.raises(NoticeError, match="no title"):
        parse_notice(notice_text(2026).replace("国务院办公厅关于2026年部分节假日安排的通知", "通知"))
    with pytest.raises(NoticeError, match="no holiday items"):
        parse_notice("国务院办公厅关于2026年部分节假日安排的通知\n\n经国务院批准，现通知如下。\n")


def test_prose_is_ignored_but_a_second_title_is_not():
    text = notice_text(2026)
    assert parse_notice("（此件公开发布）\n" + text + "\n（此件公开发布）\n").holidays() == parse_notice(text).holidays()
    with pytest.raises(NoticeError, match="more than one year"):
        parse_notice(text.replace("各省、", "国务院办公厅关于2027年部分节假日安排的通知\n各省、", 1))


# Pieces of notices, valid and not, so that generated text reaches deep into the parser.
PIECES = ["国务院办公厅关于2026年部分节假日安排的通知", "\n", "一、", "二、", "三、", "元旦", "春节", "：", ":",
          "1月1日", "12月31日", "2月29日", "13月1日", "0日", "3日", "9999年12月31日", "（周四）", "(周日)",
          "（农历腊月二十八、周日）", "（农历除夕）", "（农历闰十二月三十）", "（星期天）", "（晴）", "(", ")",
          "至", "放假", "调休", "不调休", "，", ",", "共3天", "共0天", "放假1天", "。", ".", "、", "上班",
          "与周末连休", "鼓励休息", "　", "2025年11月4日", "十一、", "２", "日"]


@settings(max_examples=400, deadline=None)
@given(st.booleans(), st.lists(st.sampled_from(PIECES), max_size=40))
def test_any_text_is_a_schedule_or_a_notice_error(in_an_item, pieces):
    start = "国务院办公厅关于2026年部分节假日安排的通知\n一、元旦：" if in_an_item else ""
    try:
        notice = parse_notice(start + "".join(pieces))
    except NoticeError as e:
        assert str(e)
    else:
        assert notice.festivals and all(f.first <= f.last for f in notice.festivals)


def test_a_lunar_date_outside_the_lunar_table_is_not_guessed():
    with pytest.raises(NoticeError, match="the lunar calendar table covers 1901–2099"):
        parse_notice("国务院办公厅关于2100年部分节假日安排的通知\n一、春节：2月9日（农历正月初一）放假，共1天。\n")
