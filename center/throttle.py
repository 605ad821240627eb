"""Login throttling, as a pure small class: the caller passes the time.

Two rules, each counted separately: per account (the name typed, known or
not, so an unknown name is throttled exactly like a real one) and per
address. Too many failures within the window lock that key for a while;
while locked, no password is checked at all (no scrypt work for a guesser).
A successful login clears its account's failures but not its address's, so
one valid account cannot be used to reset the count for guessing others.
Memory is bounded: at most `max_keys` keys per rule, the least recently
failed forgotten first.
"""
from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Rule:
    failures: int        # this many failed logins …
    window_s: float      # … within this many seconds …
    lockout_s: float     # … lock the key for this long


ACCOUNT = Rule(failures=5, window_s=15 * 60, lockout_s=15 * 60)
# A hall's PCs may share one address (NAT), so the address allows more.
ADDRESS = Rule(failures=20, window_s=15 * 60, lockout_s=15 * 60)


@dataclass
class _Key:
    failed_at: list[float] = field(default_factory=list)   # within the window, oldest first
    locked_until: float = 0.0


class _Counter:
    def __init__(self, rule: Rule, max_keys: int):
        self.rule, self.max_keys = rule, max_keys
        self._keys: OrderedDict[str, _Key] = OrderedDict()

    def wait_s(self, key: str, now: float) -> float:
        k = self._keys.get(key)
        return max(0.0, k.locked_until - now) if k else 0.0

    def failed(self, key: str, now: float) -> float:
        k = self._keys.pop(key, None) or _Key()
        self._keys[key] = k                              # most recent last
        k.failed_at = [t for t in k.failed_at if now - t < self.rule.window_s] + [now]
        if len(k.failed_at) >= self.rule.failures:
            k.locked_until = now + self.rule.lockout_s
            k.failed_at = []
        while len(self._keys) > self.max_keys:
            self._keys.popitem(last=False)
        return self.wait_s(key, now)

    def clear(self, key: str) -> None:
        self._keys.pop(key, None)

    def __len__(self) -> int:
        return len(self._keys)


class LoginThrottle:
    def __init__(self, account: Rule = ACCOUNT, address: Rule = ADDRESS, max_keys: int = 10_000):
        self.accounts = _Counter(account, max_keys)
        self.addresses = _Counter(address, max_keys)

    def wait_s(self, name: str, address: str, now: float) -> float:
        """Seconds until `name` may try again from `address`; 0 = try now."""
        return max(self.accounts.wait_s(name, now), self.addresses.wait_s(address, now))

    def failed(self, name: str, address: str, now: float) -> float:
        """Count a failed login; the lockout it leaves (0 = none yet)."""
        return max(self.accounts.failed(name, now), self.addresses.failed(address, now))

    def succeeded(self, name: str) -> None:
        self.accounts.clear(name)


def wait_text(seconds: float) -> str:
    """'14 分 5 秒' for a lockout message (rounded up to the second)."""
    s = max(1, math.ceil(seconds))
    m, s = divmod(s, 60)
    return f"{m} 分 {s} 秒" if m else f"{s} 秒"
