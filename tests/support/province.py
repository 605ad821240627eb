"""The shipped province profile as test data: its TOML as a dict to change,
and a Province built from a changed copy (errors name the file p.toml)."""
from __future__ import annotations

import copy
import tomllib

from center.province import Province, shipped_profile
from hallcore.config import Table

HUNAN = shipped_profile("hunan-example")


def raw() -> dict:
    with HUNAN.open("rb") as f:
        return tomllib.load(f)


def profile(data: dict | None = None, **top) -> Province:
    data = copy.deepcopy(raw() if data is None else data)
    data.update(top)
    return Province.from_table(Table(data, source="p.toml"))
