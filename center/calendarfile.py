"""The files of `hall-center calendar import` (DESIGN.md §8.5): the notice is
read, the holiday override file is written atomically and read back. The
decisions are in hallcore/holidaynotice.py and center/holidayfile.py.
`LiveHolidayFile` is the configured file as the running center uses it."""
from __future__ import annotations

import logging
import os
import threading
import time
from datetime import date
from pathlib import Path
from typing import Callable

from hallcore.config import ConfigError
from hallcore.fsutil import atomic_write_bytes, read_regular_file, regular_file_problem
from hallcore.workdays import WorkCalendar, YearOverride, parse_override_text
from hallcore.fsutil import file_stamp

from .holidayfile import HolidayFileError

log = logging.getLogger("center.calendar")

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


def _load(path: Path) -> tuple[str, WorkCalendar]:
    """The file's text and its calendar, by the tablets' parser; ConfigError if unusable."""
    try:
        text = read_regular_file(path, MAX_OVERRIDE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise ConfigError("(file)", "is not UTF-8", "save it as UTF-8", source=str(path)) from None
    except (OSError, ValueError) as e:
        raise ConfigError("(file)", f"cannot be read ({e})", "fix the holiday file path",
                          source=str(path)) from None
    return text, WorkCalendar(overrides=parse_override_text(text, source=str(path)))


class LiveHolidayFile:
    """`[center] holiday_file` while the center runs: read at start (a bad file
    is a ConfigError then), and read again when it changes, looked at no more
    often than every CHECK_EVERY_S, so what `calendar import` writes reaches the
    center's deadlines and the tablets' bundle without a restart. A changed
    file that does not read keeps the last good one, logged once per change."""

    CHECK_EVERY_S = 2.0

    def __init__(self, path: str | Path | None, *, monotonic: Callable[[], float] = time.monotonic):
        self.path = Path(path) if path is not None else None
        self._mono = monotonic
        self._lock = threading.Lock()
        self._checked = monotonic()
        self._stamp = file_stamp(self.path) if self.path else None
        self._bad_stamp = None
        self._text, self._calendar = _load(self.path) if self.path else (None, WorkCalendar())

    def current(self) -> tuple[str | None, WorkCalendar]:
        """(the file's text or None without a file, its calendar)."""
        if self.path is not None and self._mono() - self._checked >= self.CHECK_EVERY_S:
            with self._lock:
                self._refresh()
        return self._text, self._calendar

    @property
    def calendar(self) -> WorkCalendar:
        return self.current()[1]

    def _refresh(self) -> None:
        self._checked = self._mono()
        stamp = file_stamp(self.path)
        if stamp == self._stamp or stamp == self._bad_stamp:
            return
        try:
            text, calendar = _load(self.path)
        except ConfigError as e:
            self._bad_stamp = stamp
            log.error("holiday file changed but cannot be used; the center and the tablets keep the "
                      "last good one: %s", e)
            return
        self._stamp, self._bad_stamp, self._text, self._calendar = stamp, None, text, calendar
        log.warning("holiday file %s read again: years %s", self.path,
                    ", ".join(map(str, sorted(calendar.overrides))) or "none")


__all__ = ["LiveHolidayFile", "check_written", "official_elsewhere", "read_notice", "read_override",
           "write_override"]
