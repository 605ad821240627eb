"""Capped doubling waits: the one backoff rule of the project.

`doubling(n, first, cap)` is the wait after the n-th failure in a row:
first, 2*first, 4*first ... never more than cap. Every retrying part uses it:
the agent's sends to the center (with jitter, below), the center's alert
deliveries and the kiosk's admin PIN lockout.

`Backoff` is the agent's use (DESIGN.md section 4: retry forever): capped
exponential backoff with full jitter, the wait uniform in
[0, doubling(n, base, cap)]. Full jitter keeps a hall's tablets from retrying
in lockstep after a center outage. There is no give-up: retries never end, a
success resets the count.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


def doubling(n: int, first: float, cap: float) -> float:
    """first * 2**(n-1), at most cap; n < 1 counts as the first failure."""
    # the exponent is clamped before the power: a long outage would overflow it
    return min(cap, first * (2 ** min(max(n - 1, 0), 63)))


@dataclass
class Backoff:
    base: float = 1.0
    cap: float = 300.0
    rng: random.Random = field(default_factory=random.Random)
    failures: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.cap < self.base:
            raise ValueError(f"backoff needs 0 < base <= cap, got base={self.base} cap={self.cap}")

    def ceiling(self) -> float:
        """The upper bound of the next wait (before jitter)."""
        if self.failures == 0:
            return 0.0
        return doubling(self.failures, self.base, self.cap)

    def failed(self) -> float:
        """Count one more failure and return how long to wait before the next try."""
        self.failures += 1
        return self.rng.uniform(0.0, self.ceiling())

    def succeeded(self) -> None:
        self.failures = 0
