"""Hall time (hallcore/hallclock.py) at the ends of the calendar."""
from datetime import datetime

import pytest

from hallcore.hallclock import compact, hall_day, show, to_db


@pytest.mark.parametrize("text", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00"])
def test_a_time_with_no_utc_or_hall_equivalent_is_a_value_error_not_an_overflow(text):
    t = datetime.fromisoformat(text)
    for convert in (to_db, hall_day, show, compact):
        with pytest.raises(ValueError, match="outside the years 1-9999"):
            convert(t)
