"""How each rating button looks, and the type scale for a window size.

Pure functions, no Kivy: tests check that no two levels share a colour or a
face (colour is never the only cue) and that sizes stay legible.
"""
from __future__ import annotations

from dataclasses import dataclass

from hallcore.record import SCALES

RGBA = tuple[float, float, float, float]


@dataclass(frozen=True)
class LevelLook:
    colour: RGBA        # button background
    text_colour: RGBA   # label on that background (contrast chosen per colour)
    mood: int           # face: +2 broad smile .. -2 deep frown


_WHITE: RGBA = (1, 1, 1, 1)
_INK: RGBA = (0.12, 0.12, 0.12, 1)

LOOKS: dict[str, LevelLook] = {
    "very_satisfied": LevelLook((0.05, 0.45, 0.25, 1), _WHITE, 2),
    "satisfied": LevelLook((0.13, 0.60, 0.33, 1), _WHITE, 1),
    "basically_satisfied": LevelLook((0.98, 0.76, 0.18, 1), _INK, 0),
    "dissatisfied": LevelLook((0.85, 0.33, 0.10, 1), _WHITE, -1),
    "very_dissatisfied": LevelLook((0.62, 0.08, 0.12, 1), _WHITE, -2),
}


def look(level_name: str, scale_size: int) -> LevelLook:
    """The look of a level; on the 3-level scale 不满意 gets the deepest frown
    and red, since it is the worst choice there."""
    lk = LOOKS[level_name]
    if scale_size == 3 and level_name == "dissatisfied":
        return LOOKS["very_dissatisfied"]
    if scale_size == 3 and level_name == "satisfied":
        return LevelLook(lk.colour, lk.text_colour, 2)
    return lk


def scale_looks(scale_size: int) -> list[tuple[str, LevelLook]]:
    return [(lv.name, look(lv.name, scale_size)) for lv in SCALES[scale_size].levels]


# The .kv sizes every text as a multiple of Metrics.unit; the smallest is
# 4 units (32 px at 800 px), read at arm's length by elderly citizens.
MIN_TEXT_UNITS = 4.0


@dataclass(frozen=True)
class Metrics:
    unit: float          # 1% of the short side, in pixels
    portrait: bool       # rating buttons stacked (portrait) or in a row (landscape)


def metrics(width: int, height: int) -> Metrics:
    return Metrics(unit=max(1, min(width, height)) / 100.0, portrait=height > width)
