"""A State Council notice's year, written into the holiday override file's text
(DESIGN.md §6.3, §8.5). Pure: text in, text out; `center/calendarfile.py`
reads and writes the file.

The file is TOML that hall IT edits by hand, with comments, and Python can
read TOML but not write it. So an imported year is kept as a delimited block:

    # >>> [2027] hall-center calendar import: 国务院办公厅关于2027年部分节假日安排的通知 (2026-11-04)
    [2027]
    holidays = [ ... ]
    workdays = [ ... ]
    # <<< [2027]

Importing the year again replaces its block; a hand-written `[2027]` table is
replaced by the block (its comments go with it); everything else – other
years, comments – stays byte for byte. The new text is read back with the
override file's own parser before anything is written: the imported year must
hold exactly the notice's days and every other year exactly what it held.

A 元旦 that starts in the December before (§8.5) puts days into the previous
year: they are added to that year's table (kept with what it holds), or a
table is made for them if the package already knows that year. A year nobody
has verified is refused: a table holding only those days would mark the
whole year official.
"""
from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Callable

from hallcore.holidaynotice import HolidayNotice, weekday_name
from hallcore.workdays import YearOverride, parse_overrides

_BEGIN = re.compile(r"# >>> \[(\d{4})\]")
_TABLE = re.compile(r"\s*\[\s*(?:\"(\d{4})\"|'(\d{4})'|(\d{4}))\s*\]\s*(?:#.*)?")
_ANY_TABLE = re.compile(r"\s*\[")
NEW_FILE_HEADER = """\
# Holiday override file: the State Council's holiday schedule for years the
# calendar package does not know (format: config/holidays.toml, DESIGN.md §6.3).
# Tables between "# >>> [year]" and "# <<< [year]" lines are written by
# `hall-center calendar import NOTICE.txt`; importing a year again replaces them.
"""


class HolidayFileError(ValueError):
    """The override file cannot be changed safely; nothing is written."""


@dataclass(frozen=True)
class YearChange:
    year: int
    before: YearOverride | None      # what the file held for the year (None: no table)
    after: YearOverride

    @property
    def changed(self) -> bool:
        return self.before != self.after

    def lines(self) -> list[tuple[str, date]]:
        """("+ off", day), ("- 上班", day) …, by date."""
        old = self.before or YearOverride(frozenset(), frozenset())
        out = [("+ off", d) for d in self.after.holidays - old.holidays]
        out += [("- off", d) for d in old.holidays - self.after.holidays]
        out += [("+ 上班", d) for d in self.after.workdays - old.workdays]
        out += [("- 上班", d) for d in old.workdays - self.after.workdays]
        return sorted(out, key=lambda e: (e[1], e[0]))


@dataclass(frozen=True)
class ImportPlan:
    text: str                        # the file's new content
    changes: tuple[YearChange, ...]  # the notice's year first
    replaced: tuple[str, ...]        # what of the old text the edit replaces, for the operator

    @property
    def changed(self) -> bool:
        return any(c.changed for c in self.changes)


def read_years(text: str | None, source: str) -> dict[int, YearOverride]:
    """The years a file's text holds (ConfigError naming the key if it is bad)."""
    if text is None:
        return {}
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise HolidayFileError(f"{source} is not valid TOML ({e}): fix it before importing") from None
    return parse_overrides(data, source=source)


def plan_import(old_text: str | None, notice: HolidayNotice, *, source: str,
                verified_elsewhere: Callable[[int], bool]) -> ImportPlan:
    """The file's new text with the notice's year (and a 元旦's December before) in it.

    `old_text` None: the file does not exist yet. `verified_elsewhere(year)`:
    the calendar package knows the year."""
    old = read_years(old_text, source)
    lines = (old_text or NEW_FILE_HEADER).splitlines(keepends=True)
    newline = "\r\n" if lines and lines[0].endswith("\r\n") else "\n"
    changes, replaced = [], []
    for year in (notice.year, *[y for y in notice.years() if y != notice.year]):
        holidays = frozenset(d for d in notice.holidays() if d.year == year)
        workdays = frozenset(d for d in notice.workdays() if d.year == year)
        before = old.get(year)
        if year != notice.year:
            if before is None and not verified_elsewhere(year):
                listed = ", ".join(d.isoformat() for d in sorted(holidays | workdays))
                raise HolidayFileError(
                    f"the notice for {notice.year} puts {listed} in {year}, which neither {source} nor the calendar package knows: import {year}'s "
                    f"notice first (a [{year}] table holding only these days would mark all of {year} official)")
            if before is not None:
                holidays, workdays = holidays | before.holidays, workdays | before.workdays
        both = holidays & workdays
        if both:
            raise HolidayFileError(f"{min(both).isoformat()} would be both off and a working day in [{year}]: "
                                   f"{source} holds it the other way; fix [{year}] by hand")
        after = YearOverride(holidays, workdays)
        block = _render_block(year, notice, after, newline)
        lines, what = _put_block(lines, year, block, source)
        if what:
            replaced.append(what)
        changes.append(YearChange(year, before, after))
    text = "".join(lines)
    _check_edit(text, old, {c.year: c.after for c in changes}, source)
    return ImportPlan(text, tuple(changes), tuple(replaced))


# ------------------------------------------------------------------ rendering

def _runs(days: frozenset[date]) -> list[tuple[date, date]]:
    runs: list[list[date]] = []
    for d in sorted(days):
        if runs and d == runs[-1][1] + timedelta(days=1):
            runs[-1][1] = d
        else:
            runs.append([d, d])
    return [(a, b) for a, b in runs]


def _entry(first: date, last: date) -> str:
    return f'"{first.isoformat()}"' if first == last else f'"{first.isoformat()}..{last.isoformat()}"'


def _render_block(year: int, notice: HolidayNotice, after: YearOverride, newline: str) -> list[str]:
    """The [year] table, each entry commented with its holiday."""
    named_off = {d: f.name for f in notice.festivals for d in f.days}
    named_work = {d: f.name for f in notice.festivals for d in f.workdays}
    signed = f" ({notice.published.isoformat()})" if notice.published else ""
    head = f"# >>> [{year}] hall-center calendar import: {notice.title}{signed}"
    if year != notice.year:
        head += f" — {year}'s days of the {notice.year} notice, with what the table held"
    out = [head, f"[{year}]", "holidays = ["]
    for first, last in _runs(after.holidays):
        # A run of days off may join two holidays or a kept day: one entry per holiday.
        day = first
        while day <= last:
            name, end = named_off.get(day), day
            while end + timedelta(days=1) <= last and named_off.get(end + timedelta(days=1)) == name:
                end += timedelta(days=1)
            out.append(f"    {_entry(day, end)},  # {name or 'kept from the file'}")
            day = end + timedelta(days=1)
    out += ["]", "workdays = ["]
    for d in sorted(after.workdays):
        name = named_work.get(d)
        out.append(f'    "{d.isoformat()}",  # {weekday_name(d)}, {"for " + name if name else "kept from the file"}')
    out += ["]", f"# <<< [{year}]"]
    return [line + newline for line in out]


# ------------------------------------------------------------------ editing

def _put_block(lines: list[str], year: int, block: list[str], source: str) -> tuple[list[str], str]:
    """Replace the year's block or hand-written table with `block`, or append it."""
    for i, line in enumerate(lines):
        begin = _BEGIN.match(line)
        if begin and int(begin.group(1)) == year:
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == f"# <<< [{year}]"), None)
            if end is None:
                raise HolidayFileError(f"{source}: the [{year}] block at line {i + 1} has no end line "
                                       f"'# <<< [{year}]': put it back or remove the block, then import again")
            return lines[:i] + block + lines[end + 1:], f"the imported [{year}] block at lines {i + 1}–{end + 1}"
    for i, line in enumerate(lines):
        table = _TABLE.fullmatch(line.rstrip("\r\n"))
        if table and int(next(filter(None, table.groups()))) == year:
            end = next((j for j in range(i + 1, len(lines)) if _ANY_TABLE.match(lines[j])), len(lines))
            while end > i + 1 and (not lines[end - 1].strip() or lines[end - 1].lstrip().startswith("#")):
                end -= 1          # comments above the next table belong to it
            return (lines[:i] + block + lines[end:],
                    f"the hand-written [{year}] table at lines {i + 1}–{end} (its comments too)")
    newline = block[0][len(block[0].rstrip("\r\n")):]
    tail = lines[:]
    if tail and not tail[-1].endswith("\n"):
        tail[-1] += newline
    if tail and tail[-1].strip():
        tail.append(newline)          # a blank line before the block
    return tail + block, ""


def _check_edit(text: str, old: dict[int, YearOverride], new: dict[int, YearOverride], source: str) -> None:
    """The edited text, read back, holds exactly the old years with the new ones replaced."""
    fix = "edit or remove that year's table by hand, then import again"
    try:
        got = parse_overrides(tomllib.loads(text), source=source)
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise HolidayFileError(f"cannot edit {source} safely (the edited file would not read: {e}); {fix}") from None
    want = {**old, **new}
    wrong = sorted(y for y in got.keys() | want.keys() if got.get(y) != want.get(y))
    if wrong:
        raise HolidayFileError(f"cannot edit {source} safely: after the edit [{wrong[0]}] would not hold "
                               f"what it should (its table is written in a form this import does not "
                               f"recognise); {fix}")


# ------------------------------------------------------------------ for the operator

def describe_notice(notice: HolidayNotice) -> list[str]:
    signed = f", dated {notice.published.isoformat()}" if notice.published else ""
    out = [f"{notice.title}{signed}: {len(notice.festivals)} holidays, {len(notice.holidays())} days off, "
           f"{len(notice.workdays())} make-up working days"]
    width = max(len(f.name) for f in notice.festivals)
    for f in notice.festivals:
        days = len(f.days)
        span = f"{f.first.isoformat()} {weekday_name(f.first)}"
        if days > 1:
            span += f" to {f.last.isoformat()} {weekday_name(f.last)}"
        out.append(f"  {f.name}{'　' * (width - len(f.name))}  off {span} ({days} day{'s' if days > 1 else ''})")
        indent = "  " + "　" * width + "  "
        if days > 1:
            out.append(indent + "    " + ", ".join(f"{d.isoformat()[5:]} {weekday_name(d)}" for d in f.days))
        if f.workdays:
            out.append(indent + "上班 " + ", ".join(f"{d.isoformat()} {weekday_name(d)}" for d in f.workdays))
    out += [f"  note: {n}" for n in notice.notes]
    return out


def describe_changes(plan: ImportPlan, target: str, *, estimated: Callable[[int], bool]) -> list[str]:
    """What the import changes in `target`, per year. `estimated(year)`: no
    official data for the year outside the file today."""
    out = []
    for c in plan.changes:
        if c.before is None:
            today = "estimated today, without make-up days" if estimated(c.year) else "from the calendar package today"
            out.append(f"{target} has no [{c.year}] table ({c.year} is {today}); the import adds one with "
                       f"{len(c.after.holidays)} days off and {len(c.after.workdays)} make-up working days"
                       + (":" if c.year != plan.changes[0].year else " (above)."))
            if c.year == plan.changes[0].year:
                continue
        elif not c.changed:
            out.append(f"{target} [{c.year}] already holds exactly this.")
            continue
        else:
            out.append(f"{target} [{c.year}] changes:")
        out += [f"  {sign} {d.isoformat()} {weekday_name(d)}" for sign, d in c.lines()]
    if plan.changed:
        out += [f"It replaces {what}." for what in plan.replaced]
    return out


__all__ = ["HolidayFileError", "ImportPlan", "YearChange", "describe_changes", "describe_notice",
           "plan_import", "read_years"]
