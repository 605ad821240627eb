"""When to try the center again (DESIGN.md section 4: retry forever).

Capped exponential backoff with full jitter: after the n-th failure in a row
the wait is uniform in [0, min(cap, base * 2**(n-1))]. Full jitter keeps a
hall's tablets from retrying in lockstep after a center outage. There is no
give-up: retries never end, a success resets the count.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field


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
        # min() before the power would overflow for a long outage
        exp = min(self.failures - 1, 63)
        return min(self.cap, self.base * (2 ** exp))

    def failed(self) -> float:
        """Count one more failure and return how long to wait before the next try."""
        self.failures += 1
        return self.rng.uniform(0.0, self.ceiling())

    def succeeded(self) -> None:
        self.failures = 0
