"""2,000 evaluations through the real widgets, flow, journal and outbox: the
kiosk's memory does not grow with use (RSS after the last within 10% of RSS
after the first 100). The hall clock is advanced directly, never slept."""
from __future__ import annotations

import gc

import pytest

from tests.support.kioskui import UiHarness

EVALUATIONS = 2000
WARM_UP = 100
SOAK_SIZE = (640, 400)    # a quarter of the pixels of 1280x800: software GL fill is the cost


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def one_evaluation(h: UiHarness, i: int) -> None:
    """A citizen's evaluation, one frame drawn per screen change (software GL
    spends ~30 ms a frame, the soak's main cost). Every 10th is a bad review
    through the reasons and phone screens."""
    h.event("finish", f"S{i:05d}", frames=1)
    if i % 10 == 0:
        h.tap(h.rating_button("dissatisfied"), frames=1)
        h.tap(h.reason_button("拖拉推诿"), frames=0)
        h.tap(h.screen_widget().ids.confirm, frames=1)
        for d in "13800138000":
            h.tap(h.key_button("phone", d), wait=0.4, frames=0)
        h.tap(h.screen_widget().ids.confirm, frames=1)
    else:
        h.tap(h.rating_button("satisfied" if i % 3 else "basically_satisfied"), frames=0)
    h.advance(3.5, frames=0)


@pytest.mark.slow
def test_memory_is_flat_over_2000_evaluations(tmp_path):
    h = UiHarness(tmp_path, scale=3, size=SOAK_SIZE)
    try:
        for i in range(WARM_UP):
            one_evaluation(h, i)
        gc.collect()
        after_warm_up = rss_mib()
        for i in range(WARM_UP, EVALUATIONS):
            one_evaluation(h, i)
            if i % 200 == 0:
                # The agent acknowledges what the center stored: the live
                # outbox stays small, as on a tablet that is online.
                h.outbox.acknowledge([r["id"] for r in h.outbox.pending()])
        assert h.screen == "idle"
        gc.collect()
        after_last = rss_mib()
        stored = h.outbox.counts()
        assert stored["pending"] + stored["archived"] == EVALUATIONS
        assert len(h.done) == EVALUATIONS
        print(f"RSS after {WARM_UP}: {after_warm_up:.1f} MiB, after {EVALUATIONS}: {after_last:.1f} MiB")
        assert after_last <= after_warm_up * 1.10
    finally:
        h.close()
