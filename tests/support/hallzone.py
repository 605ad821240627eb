"""Every test starts in the default hall zone: a command run in-process
(`main([...])`) sets the zone of its config for the whole process
(hallcore.hallclock.set_hall_zone), and must not carry it into the next test."""
from __future__ import annotations

import pytest

from hallcore.hallclock import DEFAULT_TZ, set_hall_zone


@pytest.fixture(autouse=True)
def _default_hall_zone():
    set_hall_zone(DEFAULT_TZ)
    yield
    set_hall_zone(DEFAULT_TZ)
