"""监督查评: the random sample of evaluated 办件 for return visits, and the
agreement between the tablet's rating and the citizen's word on the phone.

The draw is reproducible for audit: every evaluated record gets a key that
depends only on the seed and its own id (`random.Random(f"{seed}:{id}")`),
and each window's sample is its records with the smallest keys. Row order
does not matter, and a record arriving late changes a window's sample only
at its edge. Good ratings are drawn like bad ones: induced or forced good
ratings are what the visits look for.
"""
from __future__ import annotations

import math
import random
import secrets
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterable

from hallcore.record import SCALES

MAX_SEED = 2 ** 63 - 1       # fits a signed 64-bit column and prints as a plain number
MAX_REMARK = 500


class SamplingError(ValueError):
    """Bad input to a draw or a visit; the message says which."""


@dataclass(frozen=True)
class Evaluated:
    """One rated record of the period, as the call list needs it."""
    window_id: str
    record_id: str
    scale: int
    rating: str                    # the level's name, e.g. "satisfied"
    case_no: str | None = None     # 办件编号, to find the citizen's number in the 办件 system
    ticket: str = ""
    staff_id: str = ""
    matter_name: str = ""
    voted_at: str | None = None    # ISO 8601 as stored


@dataclass(frozen=True)
class Draw:
    seed: int
    share: Fraction
    min_per_window: int
    population: dict[str, int]                    # window → evaluated records in the period
    chosen: dict[str, tuple[Evaluated, ...]]      # window → sample, by record id

    def call_list(self) -> list[Evaluated]:
        """Every sampled record, window by window (windows sorted)."""
        return [e for w in sorted(self.chosen) for e in self.chosen[w]]


def new_seed() -> int:
    """A fresh seed for a draw; it is stored and shown so the draw can be repeated."""
    return secrets.randbelow(MAX_SEED) + 1


def as_share(value: float | str | Fraction) -> Fraction:
    """A share of 0 < s ≤ 1, read exactly (0.07 is 7/100, not 0.0700000000000000067)."""
    try:
        s = value if isinstance(value, Fraction) else Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        raise SamplingError(f"share={value!r}: expected a number such as 0.05") from None
    if not 0 < s <= 1:
        raise SamplingError(f"share={value!r}: expected more than 0 and at most 1 (e.g. 0.05 for 5%)")
    return s


def sample_size(count: int, share: Fraction, min_per_window: int = 1) -> int:
    """How many of a window's `count` records are drawn: the share rounded up,
    at least `min_per_window`, at most all; none of none."""
    if count <= 0:
        return 0
    return min(count, max(min_per_window, math.ceil(count * share)))


def draw_key(seed: int, record_id: str) -> float:
    """The record's place in the draw: smaller keys are drawn first."""
    return random.Random(f"{seed}:{record_id}").random()


def draw(items: Iterable[Evaluated], *, seed: int, share: float | str | Fraction,
         min_per_window: int = 1) -> Draw:
    """The sample of each window: its `sample_size` records with the smallest keys."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise SamplingError(f"seed={seed!r}: expected a whole number from 0 to {MAX_SEED}")
    if isinstance(min_per_window, bool) or not isinstance(min_per_window, int) or min_per_window < 0:
        raise SamplingError(f"min_per_window={min_per_window!r}: expected a whole number >= 0")
    s = as_share(share)
    by_window: dict[str, list[Evaluated]] = {}
    seen: set[str] = set()
    for e in items:
        if e.record_id in seen:
            raise SamplingError(f"record {e.record_id} is listed twice")
        seen.add(e.record_id)
        by_window.setdefault(e.window_id, []).append(e)
    population, chosen = {}, {}
    for w in sorted(by_window):
        rows = by_window[w]
        n = sample_size(len(rows), s, min_per_window)
        ranked = sorted(rows, key=lambda e: (draw_key(seed, e.record_id), e.record_id))
        population[w] = len(rows)
        chosen[w] = tuple(sorted(ranked[:n], key=lambda e: e.record_id))
    return Draw(seed, s, min_per_window, population, chosen)


# -------------------------------------------------------------- agreement

@dataclass(frozen=True)
class Agreement:
    exact: bool        # the same level (the same 满意度代码)
    same_class: bool   # both good or both bad
    induced: bool      # good on the tablet, bad on the phone: the sign of an induced or forced rating


def _level(scale: int, rating: str, what: str):
    sc = SCALES.get(scale)
    if sc is None:
        raise SamplingError(f"{what} scale={scale!r}: expected 3 or 5")
    try:
        return sc.level(rating)
    except KeyError:
        raise SamplingError(f"{what} rating={rating!r}: expected one of {', '.join(sc.names)}") from None


def compare(tablet_scale: int, tablet_rating: str, phone_scale: int, phone_rating: str) -> Agreement:
    """Does the citizen's rating on the phone match the tablet's?"""
    t = _level(tablet_scale, tablet_rating, "tablet")
    p = _level(phone_scale, phone_rating, "phone")
    return Agreement(t.satisfaction_code == p.satisfaction_code, t.bad == p.bad, (not t.bad) and p.bad)


@dataclass(frozen=True)
class Visit:
    """One 监督查评 return visit of a sampled record."""
    record_id: str
    window_id: str
    tablet_scale: int
    tablet_rating: str
    reached: bool
    phone_rating: str | None = None   # None: not reached, or reached but the citizen would not rate
    phone_scale: int = 3
    remarks: str = ""


def check_visit(v: Visit) -> Visit:
    """`v` if consistent, else SamplingError (a rating needs a reached citizen)."""
    _level(v.tablet_scale, v.tablet_rating, "tablet")
    if v.phone_rating is not None:
        if not v.reached:
            raise SamplingError("未联系上群众，不能记录电话评价")
        _level(v.phone_scale, v.phone_rating, "phone")
    if len(v.remarks) > MAX_REMARK:
        raise SamplingError(f"备注过长（最多 {MAX_REMARK} 字）")
    return v


@dataclass
class WindowAgreement:
    window_id: str
    visits: int = 0          # return visits recorded
    reached: int = 0         # the citizen answered
    rated: int = 0           # … and rated on the phone: the compared ones
    exact: int = 0           # same level
    agree: int = 0           # same class (good/bad)
    disagree: int = 0
    induced: int = 0         # tablet good, phone bad
    good_checked: int = 0    # compared visits whose tablet rating was good
    good_confirmed: int = 0  # … that the phone confirmed good

    @property
    def rate(self) -> float | None:
        """Class agreement among compared visits (None: nothing compared)."""
        return self.agree / self.rated if self.rated else None

    @property
    def exact_rate(self) -> float | None:
        return self.exact / self.rated if self.rated else None

    @property
    def good_confirmed_rate(self) -> float | None:
        return self.good_confirmed / self.good_checked if self.good_checked else None


def window_agreement(visits: Iterable[Visit]) -> dict[str, WindowAgreement]:
    """Per window: visits, reached, compared, agreeing, disagreeing, induced."""
    return dict(sorted(agreement_by((v.window_id, v) for v in visits).items()))


def agreement_by(visits: Iterable[tuple[Any, Visit]]) -> dict[Any, WindowAgreement]:
    """The same counts per any unit: (unit key, visit) pairs, e.g. a
    department or a staff member (the assessment report); each
    WindowAgreement is named by str(key)."""
    out: dict[Any, WindowAgreement] = {}
    for key, v in visits:
        check_visit(v)
        w = out.setdefault(key, WindowAgreement(str(key)))
        w.visits += 1
        if not v.reached:
            continue
        w.reached += 1
        if v.phone_rating is None:
            continue
        a = compare(v.tablet_scale, v.tablet_rating, v.phone_scale, v.phone_rating)
        w.rated += 1
        w.exact += a.exact
        w.agree += a.same_class
        w.disagree += not a.same_class
        w.induced += a.induced
        if not SCALES[v.tablet_scale].level(v.tablet_rating).bad:
            w.good_checked += 1
            w.good_confirmed += a.same_class
    return out


def agreement_total(agreements: Iterable[WindowAgreement], name: str = "合计") -> WindowAgreement:
    """The counts of several units added up (the rates follow from them)."""
    t = WindowAgreement(name)
    for a in agreements:
        for f in ("visits", "reached", "rated", "exact", "agree", "disagree", "induced",
                  "good_checked", "good_confirmed"):
            setattr(t, f, getattr(t, f) + getattr(a, f))
    return t


def unconfirmed_good(w: WindowAgreement, *, min_checked: int = 5, min_confirmed: float = 0.8) -> bool:
    """A window whose good tablet ratings the visits do not confirm: at least
    `min_checked` compared good ratings, fewer than `min_confirmed` confirmed."""
    rate = w.good_confirmed_rate
    return w.good_checked >= min_checked and rate is not None and rate < min_confirmed


__all__ = ["Agreement", "Draw", "Evaluated", "SamplingError", "Visit", "WindowAgreement",
           "agreement_by", "agreement_total", "as_share", "check_visit", "compare", "draw", "draw_key", "new_seed", "sample_size",
           "unconfirmed_good", "window_agreement"]
