"""Benchmark: the kiosk app's start-up, tap-to-thank-you latency and memory.

  first screen   a fresh process (python bench/kiosk.py --child) builds the
                 real app (font, kv, flow, journal, outbox) and draws the idle
                 screen; time from just before the process is spawned to the
                 end of the first drawn frame.
  tap -> thanks  in this process, at 1280x800: a finished ticket, then a touch
                 on 满意 through the window; time from the touch to the end
                 of the frame that shows the thank-you screen, which includes
                 the outbox's fsynced put and the journal write.
  RSS            this process after all the taps.

Rendering is offscreen (SDL2 offscreen + Mesa llvmpipe: software GL on the
CPU, so slower than a tablet's GPU). usage: python bench/kiosk.py [--taps N]
The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def rss_mib() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096 / 2**20


def child() -> int:
    """Start the real app the way run_app does (minus the queue source) and
    print the time its first frame was drawn."""
    from kiosk.ui.boot import configure_kivy
    configure_kivy(fullscreen=False, size=(1280, 800), offscreen=True,
                   home=tempfile.mkdtemp(prefix="kivy-bench-"), quiet=True, max_fps=0)
    from kivy.clock import Clock
    from kivy.core.window import Window

    from outbox.store import Outbox
    from kiosk.config import DEFAULT_FONT, bold_of
    from kiosk.flow import FlowSettings, KioskFlow
    from kiosk.journal import Journal
    from kiosk.ui.app import KioskApp, finish_frames, hall_now, register_font

    folder = Path(tempfile.mkdtemp(prefix="kiosk-bench-"))
    outbox = Outbox(folder / "outbox", "bench-01")
    settings = FlowSettings(device_id="bench-01", region_code="430922", hall_id="taojiang", window_id="03")
    flow = KioskFlow(settings, outbox, Journal(folder / "journal.json"), lambda *a: None, hall_now())
    flow.resume(hall_now())
    register_font(DEFAULT_FONT, bold_of(DEFAULT_FONT))
    app = KioskApp(flow, outbox=outbox, device_id="bench-01", version="bench")
    finish_frames()

    def drawn(*_):
        if app.root is not None and app.root.ids.sm.current == "idle":
            print(f"FIRST_SCREEN {time.time():.6f}", flush=True)
            Window.unbind(on_flip=drawn)
            Clock.schedule_once(lambda dt: app.stop(), 0)

    Window.bind(on_flip=drawn)
    app.run()
    outbox.close()
    return 0


def first_screen_s(runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, __file__, "--child"], capture_output=True, text=True,
                             timeout=120, cwd=ROOT)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("FIRST_SCREEN ")), None)
        if line is None:
            raise SystemExit(f"child did not draw a first screen:\n{out.stdout}\n{out.stderr[-2000:]}")
        times.append(float(line.split()[1]) - t0)
    return times


def tap_to_thanks_ms(taps: int) -> list[float]:
    from tests.support.kioskui import UiHarness
    h = UiHarness(Path(tempfile.mkdtemp(prefix="kiosk-bench-")), size=(1280, 800))
    samples = []
    try:
        for i in range(taps + 5):
            h.event("finish", f"B{i:04d}", frames=2)
            h.advance(1.0, frames=1)
            button = h.rating_button("satisfied")
            x, y = button.to_window(*button.center)
            t0 = time.perf_counter()
            h.tap_at(x, y)
            h.pump(1)                       # the frame that draws the thank-you
            t1 = time.perf_counter()
            if h.screen != "thanks":
                raise SystemExit(f"tap {i} did not reach the thank-you screen ({h.screen})")
            if i >= 5:                      # the first few warm the caches
                samples.append((t1 - t0) * 1000)
            h.advance(3.5, frames=1)
    finally:
        h.close()
    return samples


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--taps", type=int, default=200)
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child()
    os.environ.setdefault("KIVY_NO_CONSOLELOG", "1")
    starts = first_screen_s(args.starts)
    lat = tap_to_thanks_ms(args.taps)
    rss = rss_mib()
    first = statistics.median(starts)
    print(f"{'measure':<34}{'value':>12}")
    print(f"{'start to first screen (median)':<34}{first:>10.2f} s   runs: {', '.join(f'{s:.2f}' for s in starts)}")
    print(f"{'tap to thank-you p50':<34}{pct(lat, 50):>10.1f} ms")
    print(f"{'tap to thank-you p99':<34}{pct(lat, 99):>10.1f} ms   ({len(lat)} taps)")
    print(f"{'RSS after the taps':<34}{rss:>10.1f} MiB")
    print(json.dumps({"first_screen_s": round(first, 3), "tap_to_thanks_p50_ms": round(pct(lat, 50), 2),
                      "tap_to_thanks_p99_ms": round(pct(lat, 99), 2), "rss_mib": round(rss, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
