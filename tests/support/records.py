"""Valid schema-1 records for agent tests, built with hallcore.record.new_record."""
from __future__ import annotations

import itertools
from datetime import datetime, timedelta, timezone

from hallcore.record import new_record

CST = timezone(timedelta(hours=8))
_tickets = itertools.count(1)


def make_record(*, bad: bool = False, device_id: str = "tab-03", voted_at: datetime | None = None,
                due_at: datetime | None = None, seq: int | None = None, window_id: str = "03",
                **over) -> dict:
    t = voted_at or datetime.now(CST).replace(microsecond=0)
    n = next(_tickets)
    kw = dict(device_id=device_id, region_code="430922", hall_id="taojiang", window_id=window_id,
              staff_id="1024", staff_name="李明", ticket=f"A{n:04d}", case_no=None,
              matter_code="M1", matter_name="居民身份证换领", matter_index=1, matter_count=1,
              scale_size=3, prompted_at=t, voted_at=t,
              rating="dissatisfied" if bad else "satisfied")
    if bad:
        kw.update(reasons=["拖拉推诿"], contact_phone="13812345678",
                  due_at=due_at or t + timedelta(days=2), calendar_verified=True)
    kw.update(over)
    rec = new_record(**kw)
    if seq is not None:
        rec["seq"] = seq
    return rec
