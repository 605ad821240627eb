"""The hidden way into the admin screen: a corner gesture, then a PIN.

Pure classes (times are passed in) so the rules are tested without a screen.
The PIN itself is checked by kiosk.admin.verify_pin against the hash in the
config; this module only decides when to ask and when to refuse to listen.
"""
from __future__ import annotations

from collections import deque
from typing import Callable

from hallcore.backoff import doubling


class CornerTaps:
    """True once `count` taps land in the top-right corner within `within_s`.

    A citizen tapping around never hits it by accident: the corner is small,
    taps elsewhere reset the count, and the window is short.
    """

    def __init__(self, count: int = 5, within_s: float = 3.0, corner: float = 0.08):
        self.count, self.within_s, self.corner = count, within_s, corner
        self._taps: deque[float] = deque(maxlen=count)

    def in_corner(self, x: float, y: float, width: float, height: float) -> bool:
        # Kivy's y grows upwards: top-right is large x and large y.
        size = self.corner * min(width, height)
        return x >= width - size and y >= height - size

    def tap(self, x: float, y: float, width: float, height: float, t: float) -> bool:
        if not self.in_corner(x, y, width, height):
            self._taps.clear()
            return False
        self._taps.append(t)
        if len(self._taps) == self.count and self._taps[-1] - self._taps[0] <= self.within_s:
            self._taps.clear()
            return True
        return False


class PinGate:
    """Rate-limits admin PIN attempts: after `free_attempts` wrong PINs each
    further wrong PIN locks the gate, `lock_s` doubling up to `max_lock_s`.
    A right PIN resets it. While locked nothing is checked at all."""

    OK, WRONG, LOCKED = "ok", "wrong", "locked"

    def __init__(self, verify: Callable[[str], bool], free_attempts: int = 3,
                 lock_s: float = 30.0, max_lock_s: float = 900.0):
        self.verify = verify
        self.free_attempts, self.lock_s, self.max_lock_s = free_attempts, lock_s, max_lock_s
        self.failures = 0
        self.locked_until = 0.0

    def locked_for(self, t: float) -> float:
        return max(0.0, self.locked_until - t)

    def attempt(self, pin: str, t: float) -> str:
        if self.locked_for(t) > 0:
            return self.LOCKED
        if self.verify(pin):
            self.failures = 0
            self.locked_until = 0.0
            return self.OK
        self.failures += 1
        over = self.failures - self.free_attempts
        if over >= 0:
            self.locked_until = t + doubling(over + 1, self.lock_s, self.max_lock_s)
        return self.WRONG
