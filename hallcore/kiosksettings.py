"""The kiosk settings the center may set (DESIGN.md §4.9, §6): one set of
rules for the tablet's own `[kiosk]` table and for the center's bundle.

    scale             3 | 5
    reasons           1-20 distinct bad-review reasons, each ≤ 200 characters
    reminder_after_s  5..600
    timeout_s         10..1800, longer than reminder_after_s
    thanks_s          1..30
    test_mode         true | false

`read_settings(table)` reads exactly these keys from a hallcore.config.Table
(kiosk/config.py passes the tablet's [kiosk], hallcore/bundle.py the
tablet's values with the bundle's on top, the center its [bundle.kiosk]
layers), so a bound is checked the same way wherever the value comes from
and an error names the key the same way. Pure.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from hallcore.config import Table
from hallcore.record import DEFAULT_BAD_REVIEW_REASONS, MAX_TEXT

MAX_REASONS = 20   # what a record may carry (hallcore.record)
SETTINGS = ("scale", "reasons", "reminder_after_s", "timeout_s", "thanks_s", "test_mode")
BOUNDS = {"reminder_after_s": (30.0, 5, 600), "timeout_s": (60.0, 10, 1800), "thanks_s": (3.0, 1, 30)}


@dataclass(frozen=True)
class KioskSettings:
    scale: int = 3
    reasons: tuple[str, ...] = DEFAULT_BAD_REVIEW_REASONS
    reminder_after_s: float = 30.0
    timeout_s: float = 60.0
    thanks_s: float = 3.0
    test_mode: bool = False


def _reasons(k: Table) -> tuple[str, ...]:
    reasons = k.str_list("reasons", list(DEFAULT_BAD_REVIEW_REASONS))
    if not 1 <= len(reasons) <= MAX_REASONS:
        raise k.error("reasons", f"has {len(reasons)} entries", f"list 1 to {MAX_REASONS} reasons")
    if len(set(reasons)) != len(reasons):
        raise k.error("reasons", "lists a reason twice", "remove the duplicate")
    long = next((r for r in reasons if len(r) > MAX_TEXT), None)
    if long is not None:
        raise k.error("reasons", f"{long[:20]!r}... is longer than {MAX_TEXT} characters", "shorten it")
    return tuple(reasons)


def _seconds(k: Table, name: str) -> float:
    default, low, high = BOUNDS[name]
    return k.float(name, default, min=low, max=high)


def read_settings(k: Table) -> KioskSettings:
    """The SETTINGS keys of `k` (each optional, defaults above), checked;
    raises hallcore.config.ConfigError naming the key. Other keys of `k` are
    left for the caller (and its reject_unknown)."""
    scale = k.int("scale", 3, choices=(3, 5))
    reasons = _reasons(k)
    reminder = _seconds(k, "reminder_after_s")
    timeout = _seconds(k, "timeout_s")
    if timeout <= reminder:
        raise k.error("timeout_s", f"{timeout:g} is not longer than reminder_after_s ({reminder:g})",
                      "the reminder must come before the timeout: raise timeout_s or lower reminder_after_s")
    return KioskSettings(scale=scale, reasons=reasons, reminder_after_s=reminder, timeout_s=timeout,
                         thanks_s=_seconds(k, "thanks_s"), test_mode=k.bool("test_mode", False))


def local_values(kiosk_table: Mapping[str, Any] | None) -> dict[str, Any]:
    """The SETTINGS keys the tablet's own [kiosk] table sets (raw values)."""
    return {k: v for k, v in (kiosk_table or {}).items() if k in SETTINGS}


def as_values(s: KioskSettings) -> dict[str, Any]:
    """The settings as a table's values (read_settings gives `s` back)."""
    return {"scale": s.scale, "reasons": list(s.reasons), "reminder_after_s": s.reminder_after_s,
            "timeout_s": s.timeout_s, "thanks_s": s.thanks_s, "test_mode": s.test_mode}


__all__ = ["BOUNDS", "KioskSettings", "MAX_REASONS", "SETTINGS", "as_values", "local_values", "read_settings"]
