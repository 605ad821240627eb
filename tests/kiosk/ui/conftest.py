"""Fixtures of the kiosk UI tests (Kivy is imported only where it is needed)."""
from __future__ import annotations

import pytest

from tests.support.kioskui import UiHarness


@pytest.fixture
def ui(tmp_path):
    """make(**kw) builds a UiHarness (the kiosk offscreen) in its own folder;
    every one made is closed after the test."""
    made: list[UiHarness] = []

    def make(**kw) -> UiHarness:
        h = UiHarness(tmp_path / f"h{len(made)}", **kw)
        made.append(h)
        return h

    yield make
    for h in made:
        h.close()
