"""Capped exponential backoff with full jitter, forever (hallcore/backoff.py)."""
import random

import pytest

from hallcore.backoff import Backoff


def test_ceiling_doubles_then_stays_at_the_cap():
    b = Backoff(base=1.0, cap=30.0, rng=random.Random(1))
    ceilings = []
    for _ in range(8):
        b.failed()
        ceilings.append(b.ceiling())
    assert ceilings == [1, 2, 4, 8, 16, 30, 30, 30]


def test_waits_are_full_jitter_within_zero_and_the_ceiling():
    b = Backoff(base=0.5, cap=10.0, rng=random.Random(7))
    waits = []
    for _ in range(200):
        w = b.failed()
        assert 0.0 <= w <= b.ceiling()
        waits.append(w)
    tail = waits[20:]
    # jitter really spreads the waits out instead of always hitting the cap
    assert min(tail) < 2.5 and max(tail) > 7.5


def test_never_gives_up_even_after_a_very_long_outage():
    b = Backoff(base=1.0, cap=60.0, rng=random.Random(3))
    for _ in range(10_000):
        w = b.failed()
    assert b.failures == 10_000 and 0.0 <= w <= 60.0 and b.ceiling() == 60.0


def test_success_resets_to_the_first_step():
    b = Backoff(base=2.0, cap=100.0, rng=random.Random(0))
    for _ in range(5):
        b.failed()
    b.succeeded()
    assert b.ceiling() == 0.0
    b.failed()
    assert b.ceiling() == 2.0


def test_rejects_nonsense_bounds():
    with pytest.raises(ValueError):
        Backoff(base=0, cap=10)
    with pytest.raises(ValueError):
        Backoff(base=5, cap=1)
