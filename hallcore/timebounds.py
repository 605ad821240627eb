"""Which times are plausible (DESIGN.md section 3): one rule for the times a
record carries and for a tablet's own clock, applied by the kiosk, the
outbox and the center alike.

- A record's time lies between `earliest` (2019-12-01, hall time: the
  national 好差评 rule took effect then, so no real evaluation is older) and
  `ahead` (one day) past the clock of the side that checks it; a bad
  review's `due_at` may lie one deadline further.
- A device clock before the release date of the software it runs is plainly
  wrong: the release cannot have been installed before it was made.

Pure: the caller passes its clock. The center's bounds come from its config.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from hallcore import RELEASE_DATE

# China Standard Time. hallcore/hallclock.py (the hall time-zone module) is
# the one place for the hall's zone; the fixed offset here only anchors a date.
_CST = timezone(timedelta(hours=8))

EARLIEST = datetime(2019, 12, 1, tzinfo=_CST)
MAX_AHEAD = timedelta(days=1)
# How far past the vote a 2-working-day deadline can fall: a vote before the
# longest holiday (Spring Festival, 8 days with the weekends) is due about
# 12 days later; a month leaves room for a hall's own holiday file.
DEADLINE_SPAN = timedelta(days=31)


@dataclass(frozen=True)
class TimeBounds:
    earliest: datetime = EARLIEST
    ahead: timedelta = MAX_AHEAD

    def __post_init__(self) -> None:
        if self.earliest.tzinfo is None or self.earliest.utcoffset() is None:
            raise ValueError(f"earliest must be timezone-aware, got {self.earliest!r}")
        if self.ahead < timedelta(0):
            raise ValueError(f"ahead must not be negative, got {self.ahead!r}")

    def problem(self, t: datetime, now: datetime | None, *,
                extra: timedelta = timedelta(0)) -> str | None:
        """What a time must be if `t` is out of bounds, else None.

        `now` is the checking side's clock; None checks only the earliest
        bound (a caller without a clock of its own)."""
        if t < self.earliest:
            return f"a time not before {self.earliest.isoformat()}"
        if now is not None and t > now + self.ahead + extra:
            return (f"a time at most {_span(self.ahead + extra)} after the clock that checks it "
                    f"({now.isoformat(timespec='seconds')})")
        return None


DEFAULT_BOUNDS = TimeBounds()


def _span(d: timedelta) -> str:
    hours = d.total_seconds() / 3600
    return f"{hours / 24:g} day(s)" if hours % 24 == 0 else f"{hours:g} hour(s)"


def released() -> date:
    return date.fromisoformat(RELEASE_DATE)


def clock_problem(now: datetime, *, release: date | None = None,
                  bounds: TimeBounds = DEFAULT_BOUNDS) -> str | None:
    """Why this device's clock `now` is plainly wrong, or None.

    It can only be caught running behind (before the release, or before the
    earliest record time); a clock running ahead is seen by the center, which
    compares the heartbeat's clock with its own."""
    floor_day = max(release or released(), bounds.earliest.astimezone(_CST).date())
    floor = datetime.combine(floor_day, time(), _CST)
    if now < floor:
        return (f"the clock says {now.isoformat(timespec='seconds')}, before {floor_day.isoformat()} "
                f"(release of this software): set the tablet's date and time")
    return None
