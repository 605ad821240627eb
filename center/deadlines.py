"""The center's authoritative deadlines, from the shared working-day calendar."""
from __future__ import annotations

from datetime import datetime, time
from pathlib import Path

from hallcore.workdays import COORDINATION_WORKDAYS, HANDLING_WORKDAYS, Deadline, WorkCalendar, deadline

from .calendarfile import LiveHolidayFile


class Deadlines:
    def __init__(self, closing: time = time(17, 30), holiday_file: Path | None = None):
        self.closing = closing
        # the same file, read again when it changes, is what the tablets get in the bundle
        self.holidays = LiveHolidayFile(holiday_file)

    @property
    def calendar(self) -> WorkCalendar:
        return self.holidays.calendar

    def handling(self, voted_at: datetime) -> Deadline:
        """2 working days after the vote, at office closing (处理反馈时限)."""
        return deadline(voted_at, HANDLING_WORKDAYS, closing=self.closing, calendar=self.calendar)

    def coordination(self, voted_at: datetime) -> Deadline:
        """7 working days after the vote, for problems that need coordination."""
        return deadline(voted_at, COORDINATION_WORKDAYS, closing=self.closing, calendar=self.calendar)
