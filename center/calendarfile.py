"""The files of `hall-center calendar import` (DESIGN.md §8.5): the notice is
read, the holiday override file is written atomically and read back. The
decisions are in hallcore/holidaynotice.py and center/holidayfile.py."""
from __future__ import annotations

import os
from datetime import date
from pathlib import Path

from hallcore.fsutil import atomic_write_bytes, read_regular_file, regular_file_problem
from hallcore.workdays import WorkCalendar, YearOverride

from .holidayfile import HolidayFileError

MAX_NOTICE_BYTES = 1024 * 1024      # a notice is ~2 KB; anything this large is the wrong file
MAX_OVERRIDE_BYTES = 1024 * 1024
NEW_FILE_MODE = 0o644               # the center and the tablets read it; it holds no secrets


def read_notice(path: str | Path) -> str:
    """The notice's text: UTF-8 (with or without BOM), UTF-16 with BOM (Windows'
    "Unicode"), else GB18030 (what Chinese Windows saves as "ANSI")."""
    try:
        data = read_regular_file(path, MAX_NOTICE_BYTES)
    except (OSError, ValueError) as e:
        raise HolidayFileError(f"cannot read the notice: {e}") from None
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        encodings = ("utf-16",)
    else:
        encodings = ("utf-8-sig", "gb18030")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise HolidayFileError(f"{path} is neither UTF-8 nor GB18030 text: save the notice as text and try again")


def read_override(path: Path) -> str | None:
    """The override file's text, or None when it does not exist yet."""
    if not path.exists():
        if not path.parent.is_dir():
            raise HolidayFileError(f"cannot write {path}: folder {path.parent} does not exist")
        return None
    problem = regular_file_problem(path)
    if problem:
        raise HolidayFileError(f"cannot use the holiday file: {problem}")
    try:
        return read_regular_file(path, MAX_OVERRIDE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise HolidayFileError(f"{path} is not UTF-8 (TOML files are): fix it before importing") from None
    except (OSError, ValueError) as e:
        raise HolidayFileError(f"cannot read the holiday file: {e}") from None


def write_override(path: Path, text: str) -> None:
    """Replace the file atomically (hallcore.fsutil), keeping its mode, owner and group."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    try:
        atomic_write_bytes(path, text.encode("utf-8"), st.st_mode & 0o777 if st else NEW_FILE_MODE)
    except OSError as e:
        raise HolidayFileError(f"cannot write the holiday file: {e}") from None
    if st is not None and os.geteuid() == 0:
        os.chown(path, st.st_uid, st.st_gid)    # root editing /etc/hall/holidays.toml for the service user


def check_written(path: Path, year: int, expected: YearOverride) -> WorkCalendar:
    """Read the written file the way the center and the tablets will."""
    calendar = WorkCalendar(path)
    if calendar.overrides.get(year) != expected or not calendar.is_verified(date(year, 1, 1)):
        raise HolidayFileError(f"{path} was written but does not read back as {year}'s schedule: "
                               "check the file by hand")
    return calendar


def official_elsewhere(year: int) -> bool:
    """The calendar package has the State Council's schedule for `year`."""
    return WorkCalendar().is_verified(date(year, 1, 1))


__all__ = ["check_written", "official_elsewhere", "read_notice", "read_override", "write_override"]
