"""The State Council's holiday notice, read as the plain text it is published in
(国务院办公厅关于<year>年部分节假日安排的通知; DESIGN.md §8.5).

    一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。1月4日（周日）上班。

`parse_notice(text)` turns a notice into a `HolidayNotice`: the year (from the
title), and per item line the days off and the make-up working days (上班).
Pure: no I/O. `hall-center calendar import` writes the result into the
override file that `hallcore.workdays.WorkCalendar` reads.

The notice is checked against itself, so a typo in it or a misreading here
stops the import instead of moving a deadline: every weekday (周X) and lunar
date (农历…) in parentheses must be the date's, 共N天 must equal the days of
the range (weekend days included), a make-up day must be a Saturday or
Sunday, and no day may be both off and a working day. Anything in an item
line (`<一…>、`) that is not understood is an error naming the line; other
lines (salutation, preamble, closing text, signature) are prose and ignored.

Dates carry no year: they are in the notice's year. The one exception is
元旦 starting in the December before (`12月31日至1月2日`, or written with
years, `2022年12月31日至2023年1月2日`): a range whose end comes before its start
in the calendar crosses into the notice's year, so it starts in the previous
year. Any other date outside the notice's year, or before that December, is
an error.
"""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable, NoReturn

from lunardate import LunarDate

WEEKDAYS = "一二三四五六日"          # date.weekday() 0..6 → 周一..周日
# Longer than any holiday the State Council has declared (春节: 9 days in 2026);
# a longer range is a typo in the notice, not a holiday.
MAX_HOLIDAY_DAYS = 15
_NUMERALS = "一二三四五六七八九十"
_ITEM = re.compile(rf"([{_NUMERALS}]+)、(.*)")
_TITLE = re.compile(r"(?:国务院办公厅)?关于(?P<year>\d{4})年部分节假日安排的通知")
_SIGNED = re.compile(r"(\d{4})年(\d{1,2})月(\d{1,2})日")
# One date: [YYYY年][M月]D日[（annotation）]; the month may be left out only at a range's end.
_DATE = re.compile(r"(?:(?P<y>\d{4})年)?(?:(?P<m>\d{1,2})月)?(?P<d>\d{1,2})日(?:\((?P<note>[^()]*)\))?")
_WEEKDAY = re.compile(r"(?:周|星期|礼拜)([一二三四五六日天])")
_LUNAR_MONTHS = {"正": 1, "一": 1, "二": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8,
                 "九": 9, "十": 10, "十一": 11, "冬": 11, "十二": 12, "腊": 12}
_LUNAR = re.compile(r"农历(?:(?P<eve>除夕)|(?P<leap>闰)?(?P<month>十一|十二|[正一二三四五六七八九十冬腊])月"
                    r"(?P<day>初[一二三四五六七八九十]|十[一二三四五六七八九]?|二十[一二三四五六七八九]?"
                    r"|廿[一二三四五六七八九]|三十))")
_LUNAR_TABLE_YEARS = range(1901, 2100)   # lunardate's table; outside it answers nonsense, not an error
_LUNAR_DIGITS = {c: i for i, c in enumerate("一二三四五六七八九十", start=1)}
# A line that is not an item but holds a date followed by 放假/上班/至: the tail of an
# item line wrapped by a web page or PDF; ignoring it would drop days.
_STRAY = re.compile(r"\d{1,2}月\d{1,2}日(?:\([^()]*\))?(?:放假|上班|至\d)")

Fail = Callable[[str], NoReturn]


class NoticeError(ValueError):
    """A notice that cannot be read as a schedule: names the line and the problem."""

    def __init__(self, problem: str, line_no: int | None = None, line: str = ""):
        self.problem, self.line_no, self.line = problem, line_no, line
        where = f"line {line_no}: " if line_no is not None else ""
        quoted = f" — in 「{_shorten(line)}」" if line else ""
        super().__init__(f"{where}{problem}{quoted}")


@dataclass(frozen=True)
class Festival:
    """One item line: a holiday's days off and its make-up working days."""
    number: int                   # 一 = 1: the item's place in the notice
    name: str                     # 元旦; 国庆节、中秋节
    first: date
    last: date
    workdays: tuple[date, ...]    # 上班, in the notice's order
    line_no: int

    @property
    def days(self) -> tuple[date, ...]:
        return tuple(self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1))


@dataclass(frozen=True)
class HolidayNotice:
    year: int
    title: str
    published: date | None        # the date under the signature, when the text has it
    festivals: tuple[Festival, ...]
    notes: tuple[str, ...] = ()   # advice inside item lines (鼓励…): no schedule data, shown to the operator

    def holidays(self) -> frozenset[date]:
        return frozenset(d for f in self.festivals for d in f.days)

    def workdays(self) -> frozenset[date]:
        return frozenset(d for f in self.festivals for d in f.workdays)

    def years(self) -> tuple[int, ...]:
        """The years the notice's days fall in: its own, and the December before for a 元旦 starting there."""
        return tuple(sorted({d.year for d in self.holidays() | self.workdays()} | {self.year}))


def weekday_name(d: date) -> str:
    return "周" + WEEKDAYS[d.weekday()]


def chinese_date(d: date) -> str:
    return f"{d.month}月{d.day}日"


def _shorten(line: str, limit: int = 120) -> str:
    line = line.strip()
    return line if len(line) <= limit else line[:limit - 1] + "…"


def _split(text: str, separators: str) -> list[str]:
    """Split at separators outside parentheses: 至9日(农历正月初七,星期六) is one piece."""
    parts, depth, start = [], 0, 0
    for i, c in enumerate(text):
        depth += (c == "(") - (c == ")")
        if depth == 0 and c in separators:
            parts.append(text[start:i])
            start = i + 1
    return parts + [text[start:]]


def _normalize(line: str) -> str:
    """Full-width letters, digits and punctuation → half-width (（→(, ：→:, ，→,),
    whitespace removed: the notice is copied from web pages and PDFs in either form."""
    return "".join(unicodedata.normalize("NFKC", line).split())


def _numeral(text: str) -> int:
    """一 … 十九 (an item number)."""
    if text == "十":
        return 10
    if text.startswith("十"):
        return 10 + _NUMERALS.index(text[1]) + 1 if len(text) == 2 else 0
    if len(text) == 1:
        return _NUMERALS.index(text) + 1
    return 0


# ------------------------------------------------------------------ one date

def _lunar_of(d: date) -> LunarDate:
    # lunardate 0.3 renamed fromSolarDate; setup.cfg allows 0.2.2 too.
    convert = getattr(LunarDate, "from_solar_date", None) or LunarDate.fromSolarDate
    return convert(d.year, d.month, d.day)


def _is_leap(ld: LunarDate) -> bool:
    # lunardate 0.3 renamed isLeapMonth (and warns on the old name).
    return bool(ld.is_leap_month if hasattr(ld, "is_leap_month") else ld.isLeapMonth)


def _lunar_day(text: str) -> int:
    """初一 … 初十, 十一 … 十九, 二十, 二十一 / 廿一 … 二十九, 三十."""
    if text.startswith("初"):
        return _LUNAR_DIGITS[text[1]]
    tens = {"十": 10, "廿": 20, "二十": 20, "三十": 30}
    head = text[:2] if text[:2] in tens else text[0]
    return tens[head] + (_LUNAR_DIGITS[text[len(head):]] if text[len(head):] else 0)


def _check_annotation(d: date, note: str, fail: Fail) -> None:
    """（周四）, （农历腊月二十八、周日）, （星期六）: each part must be true of `d`."""
    for part in filter(None, _split(note, "、,")):   # after NFKC 、 stays and ， becomes ,
        weekday = _WEEKDAY.fullmatch(part)
        lunar = _LUNAR.fullmatch(part)
        if lunar and d.year not in _LUNAR_TABLE_YEARS:
            fail(f"cannot check 「{part}」 for {d.isoformat()}: the lunar calendar table covers "
                 f"{_LUNAR_TABLE_YEARS.start}–{_LUNAR_TABLE_YEARS.stop - 1}")
        if weekday:
            said = weekday.group(1).replace("天", "日")
            if WEEKDAYS.index(said) != d.weekday():
                fail(f"{chinese_date(d)} ({d.isoformat()}) is a {weekday_name(d)}, the notice says 周{said}")
        elif lunar and lunar.group("eve"):
            new_year = _lunar_of(d + timedelta(days=1))
            if (new_year.month, new_year.day) != (1, 1):
                fail(f"{chinese_date(d)} ({d.isoformat()}) is not 除夕 (the eve of 正月初一)")
        elif lunar:
            ld = _lunar_of(d)
            said = (_LUNAR_MONTHS[lunar.group("month")], _lunar_day(lunar.group("day")), bool(lunar.group("leap")))
            if (ld.month, ld.day, _is_leap(ld)) != said:
                fail(f"{chinese_date(d)} ({d.isoformat()}) is not {part} "
                     f"(it is lunar month {ld.month}{' (leap)' if _is_leap(ld) else ''}, day {ld.day})")
        else:
            fail(f"cannot read 「{part}」 in the parentheses after {chinese_date(d)} "
                 "(expected a weekday such as 周四, or a lunar date such as 农历正月初七)")


def _resolve(y: int, m: int, d: int, fail: Fail) -> date:
    try:
        return date(y, m, d)
    except ValueError:
        fail(f"{y}年{m}月{d}日 is not a date")


def _in_scope(d: date, year: int, fail: Fail) -> None:
    if d.year != year and not (d.year == year - 1 and d.month == 12):
        fail(f"{d.isoformat()} is outside {year}, the notice's year (only a 元旦 may start in the "
             f"December before)")


# ------------------------------------------------------------------ one item

def _parse_span(text: str, year: int, fail: Fail) -> tuple[date, date]:
    """`1月1日（周四）至3日（周六）`, `9月30日至10月8日`, `12月31日至1月2日`, `5月1日`."""
    shape = f"cannot read the dates 「{text}」 (expected e.g. 1月1日（周四）至3日（周六）)"
    start = _DATE.match(text)
    if not start or not start.group("m"):
        fail(shape)
    end = _DATE.match(text, start.end() + 1) if text.startswith("至", start.end()) else None
    if (end or start).end() != len(text):
        fail(shape)
    first = _resolve(int(start.group("y") or year), int(start.group("m")), int(start.group("d")), fail)
    last = first
    if end is not None:
        last = _resolve(int(end.group("y") or first.year), int(end.group("m") or first.month),
                        int(end.group("d")), fail)
        if last < first and not end.group("m"):
            fail(f"the range 「{text}」 ends before it starts (name the end's month)")
        if last < first and not end.group("y"):    # crosses a New Year
            if start.group("y"):                   # 2018年12月30日至1月1日
                last = _resolve(first.year + 1, last.month, last.day, fail)
            else:                                  # 12月31日至1月2日: 元旦 from the December before
                first = _resolve(year - 1, first.month, first.day, fail)
        if last < first:
            fail(f"the range 「{text}」 ends before it starts")
    for d, m in ((first, start), (last, end or start)):
        _in_scope(d, year, fail)
        if m.group("note") is not None:
            _check_annotation(d, m.group("note"), fail)
    if (last - first).days + 1 > MAX_HOLIDAY_DAYS:
        fail(f"{first.isoformat()} to {last.isoformat()} is {(last - first).days + 1} days, longer than "
             f"any holiday ({MAX_HOLIDAY_DAYS}): a typo?")
    return first, last


def _parse_workdays(text: str, first: date, last: date, year: int, fail: Fail) -> tuple[date, ...]:
    """`1月26日（周日）、2月8日（周六）` (the sentence without 上班)."""
    days = []
    for part in _split(text, "、,"):
        m = _DATE.fullmatch(part)
        if not m or not m.group("m"):
            fail(f"cannot read the make-up day 「{part}」 (expected e.g. 2月14日（周六）)")
        month, day = int(m.group("m")), int(m.group("d"))
        if m.group("y"):
            d = _resolve(int(m.group("y")), month, day, fail)
        else:   # the year that puts it nearest its holiday: the December before for such a 元旦
            options = [_resolve(y, month, day, fail) for y in sorted({year, first.year})]
            d = min(options, key=lambda o: min(abs((o - first).days), abs((o - last).days)))
        _in_scope(d, year, fail)
        if m.group("note") is not None:
            _check_annotation(d, m.group("note"), fail)
        if d.weekday() < 5:
            fail(f"make-up working day {chinese_date(d)} ({d.isoformat()}) is a {weekday_name(d)}: "
                 "a 上班 day is a Saturday or Sunday (a weekday is a working day anyway)")
        days.append(d)
    return tuple(days)


def _parse_item(number: int, rest: str, year: int, line_no: int, raw: str) -> tuple[Festival, list[str]]:
    def fail(problem: str) -> NoReturn:
        raise NoticeError(problem, line_no, raw)

    name, colon, body = rest.partition(":")
    if not colon or not name or any(c.isdigit() for c in name):
        fail("an item line must read <序号>、<节日>：<dates>放假…，e.g. 一、元旦：1月1日（周四）至3日（周六）放假调休，共3天。")
    sentences = [s for s in _split(body, "。.;") if s]
    if not sentences or "放假" not in sentences[0]:
        fail("the first sentence after the holiday's name must say when it is 放假")
    clauses = _split(sentences[0], ",")
    head = re.fullmatch(r"(?P<span>.+?)放假(?:(?P<n>\d+)天)?(?P<tx>调休)?", clauses[0])
    if not head:
        fail(f"cannot read 「{clauses[0]}」 (expected <dates>放假 or <dates>放假调休)")
    first, last = _parse_span(head.group("span"), year, fail)
    counts = [int(head.group("n"))] if head.group("n") else []
    swapped, not_swapped = bool(head.group("tx")), False
    for clause in clauses[1:]:
        count = re.fullmatch(r"共(\d+)天", clause)
        if count:
            counts.append(int(count.group(1)))
        elif clause == "不调休":
            not_swapped = True
        elif clause != "与周末连休":      # 2024's 元旦: says only that a weekend adjoins it
            fail(f"cannot read 「{clause}」 (expected 共N天 or 不调休)")
    days = (last - first).days + 1
    for n in counts:
        if n != days:
            fail(f"共{n}天 does not match {first.isoformat()} to {last.isoformat()}, which is {days} "
                 f"day{'s' if days > 1 else ''} (weekend days included)")
    workdays: tuple[date, ...] = ()
    notes: list[str] = []
    for sentence in sentences[1:]:
        if sentence.endswith("上班") and not workdays:
            workdays = _parse_workdays(sentence[:-2], first, last, year, fail)
        elif sentence.startswith("鼓励"):
            notes.append(f"{name}: {sentence}")
        else:
            fail(f"cannot read the sentence 「{sentence}」 (expected <dates>上班)")
    if swapped and not_swapped:
        fail("says both 调休 and 不调休")
    if swapped and not workdays:
        fail("says 放假调休 but names no make-up working day (…上班)")
    if workdays and not swapped:
        fail("names make-up working days (上班) but says 放假, not 放假调休")
    if len(set(workdays)) != len(workdays):
        fail("names a make-up working day twice")
    return Festival(number, name, first, last, workdays, line_no), notes


# ------------------------------------------------------------------ the notice

def parse_notice(text: str) -> HolidayNotice:
    """The notice's schedule, or NoticeError naming the line that is wrong."""
    raw_lines = text.lstrip("\ufeff").splitlines()
    lines = [_normalize(raw) for raw in raw_lines]
    first_item = next((i for i, line in enumerate(lines) if _ITEM.match(line)), len(lines))
    # The title may be wrapped over two lines ("…关于2025年" / "部分节假日安排的通知").
    titles = list(_TITLE.finditer("".join(lines[:first_item])))
    if not titles:
        raise NoticeError("no title 国务院办公厅关于<year>年部分节假日安排的通知 before the first item: "
                          "the year is unknown")
    year = int(titles[0].group("year"))
    if any(int(t.group("year")) != year for t in titles):
        raise NoticeError(f"titles for more than one year ({', '.join(t.group('year') for t in titles)})")
    for line_no, (raw, line) in enumerate(zip(raw_lines, lines), start=1):
        if not _ITEM.match(line) and _STRAY.search(line):    # before the items: it explains their errors
            raise NoticeError("reads like part of a holiday item (a date followed by 放假, 上班 or 至) "
                              "but does not start with 一、… : join it to its item line", line_no, raw)
    published = None
    festivals: list[Festival] = []
    notes: list[str] = []
    for line_no, (raw, line) in enumerate(zip(raw_lines, lines), start=1):
        item = _ITEM.match(line)
        if item:
            number = _numeral(item.group(1))
            if number != len(festivals) + 1:
                expected = _NUMERALS[len(festivals)] if len(festivals) < 10 else str(len(festivals) + 1)
                raise NoticeError(f"item {item.group(1)} where item {expected} was expected: is a line "
                                  "missing or repeated?", line_no, raw)
            festival, item_notes = _parse_item(number, item.group(2), year, line_no, raw)
            festivals.append(festival)
            notes.extend(item_notes)
        elif festivals and (signed := _SIGNED.fullmatch(line)):
            try:
                published = date(*map(int, signed.groups()))
            except ValueError:
                raise NoticeError(f"{line} is not a date", line_no, raw) from None
    if not festivals:
        raise NoticeError(f"no holiday items (一、元旦：…) in the notice for {year}")
    _check_across(festivals, raw_lines)
    return HolidayNotice(year, titles[0].group(0), published, tuple(festivals), tuple(notes))


def _check_across(festivals: list[Festival], raw_lines: list[str]) -> None:
    """No day is off for two holidays, or both off and a make-up working day."""
    off: dict[date, Festival] = {}
    for f in festivals:
        for d in f.days:
            if d in off:
                raise NoticeError(f"{d.isoformat()} is already off for {off[d].name} (line {off[d].line_no})",
                                  f.line_no, raw_lines[f.line_no - 1])
            off[d] = f
    seen: dict[date, Festival] = {}
    for f in festivals:
        for d in f.workdays:
            if d in off:
                raise NoticeError(f"make-up working day {d.isoformat()} is a day off for {off[d].name} "
                                  f"(line {off[d].line_no})", f.line_no, raw_lines[f.line_no - 1])
            if d in seen:
                raise NoticeError(f"make-up working day {d.isoformat()} is already named for {seen[d].name} "
                                  f"(line {seen[d].line_no})", f.line_no, raw_lines[f.line_no - 1])
            seen[d] = f


__all__ = ["Festival", "HolidayNotice", "NoticeError", "chinese_date", "parse_notice", "weekday_name"]
