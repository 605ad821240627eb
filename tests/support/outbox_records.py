"""Valid records for outbox tests and the crash-test child processes."""
from __future__ import annotations

from datetime import datetime, timedelta

from hallcore.hallclock import DEFAULT_TZ
from hallcore.record import new_record

T0 = datetime(2026, 11, 27, 9, 0, tzinfo=DEFAULT_TZ)


def vote(n: int = 0, *, device_id: str = "tab-03", bad: bool = False, **over) -> dict:
    """The n-th vote of the day at window 03: prompted n minutes after 09:00."""
    t = T0 + timedelta(minutes=n)
    kw = dict(device_id=device_id, region_code="430922", hall_id="taojiang", window_id="03",
              staff_id="1024", staff_name="李明", ticket=f"A{n % 1000:03d}", case_no=None,
              matter_code="M1", matter_name="居民身份证换领", matter_index=1, matter_count=1,
              scale_size=3, prompted_at=t, rating="satisfied", voted_at=t)
    if bad:
        kw.update(rating="dissatisfied", reasons=["拖拉推诿"], due_at=t + timedelta(days=4),
                  calendar_verified=True)
    kw.update(over)
    return new_record(**kw)
