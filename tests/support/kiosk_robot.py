"""A headless kiosk with a robot citizen, for the end-to-end test.

The real kiosk wiring without Kivy: the tablet config (kiosk.config), the
real MQTT ticket source, the real KioskFlow, journal and outbox; instead of
a touchscreen a seeded robot taps random answers (a quarter bad reviews with
a reason and sometimes a phone number; now and then it walks away). The
flow's clock is the real clock plus a skew the robot advances to skip the
thank-you screen and walk-away waits, so hundreds of tickets take seconds.

Every record the flow stores is appended to <storage>/robot-stored.jsonl
once put() returned (what "the kiosk stored" means to the test), and the
robot's state to <storage>/robot-state.json.

    python tests/support/kiosk_robot.py --config tablet.toml --seed 7
"""
from __future__ import annotations

import argparse
import json
import queue
import random
import signal
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from outbox.store import Outbox  # noqa: E402
from hallcore.config import Table  # noqa: E402
from hallcore.fsutil import atomic_write_json  # noqa: E402
from hallcore.hallclock import DEFAULT_TZ  # noqa: E402
from hallcore.record import OTHER_REASON, is_bad_review  # noqa: E402
from kiosk.config import load_kiosk_config  # noqa: E402
from kiosk.flow import KioskFlow  # noqa: E402
from kiosk.journal import Journal  # noqa: E402
from kiosk.sources import open_source  # noqa: E402


class RecordingOutbox:
    """The real outbox; also notes each stored record for the test."""

    def __init__(self, outbox: Outbox, log_path: Path):
        self.outbox = outbox
        self.log = log_path.open("a", encoding="utf-8")
        self.count = 0

    def put(self, record):
        stored = self.outbox.put(record)
        self.log.write(json.dumps({"id": stored["id"], "seq": stored["seq"], "bad": is_bad_review(stored),
                                   "voted_at": stored["voted_at"], "due_at": stored["due_at"]}) + "\n")
        self.log.flush()
        self.count += 1
        return stored

    def __getattr__(self, name):
        return getattr(self.outbox, name)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    cfg = load_kiosk_config(args.config)
    t = cfg.tablet
    rng = random.Random(args.seed)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    source = open_source(Table(cfg.queue, "queue", str(cfg.path)), hall_id=t.hall_id, window_id=t.window_id,
                         config_dir=t.config_dir)
    outbox = RecordingOutbox(Outbox(t.outbox_folder, t.device_id), t.storage / "robot-stored.jsonl")
    skew = timedelta()

    def now() -> datetime:
        return datetime.now(DEFAULT_TZ) + skew

    flow = KioskFlow(cfg.flow, outbox, Journal(t.journal_path), source.send_done, now())
    flow.resume(now())
    events: queue.Queue = queue.Queue()
    source.start(events.put)
    walkaway = timedelta(seconds=cfg.flow.timeout_s + 0.5)
    thanks = timedelta(seconds=cfg.flow.thanks_s + 0.05)
    state_due = 0.0
    try:
        while not stop.is_set():
            while not events.empty():
                flow.on_event(events.get(), now())
            v = flow.view
            if v.screen == "rating":
                if rng.random() < 0.05:
                    skew += walkaway                      # the citizen left
                else:
                    bad = [lv for lv in v.levels if lv.bad]
                    good = [lv for lv in v.levels if not lv.bad]
                    flow.tap_rating(rng.choice(bad if rng.random() < 0.25 else good).name, now())
            elif v.screen == "reasons":
                flow.toggle_reason(rng.choice([r for r in v.reasons if r != OTHER_REASON]), now())
                flow.confirm_reasons(now())
            elif v.screen == "phone":
                if rng.random() < 0.5:
                    for d in "13812345678":
                        flow.phone_key(d, now())
                    flow.confirm_phone(now())
                else:
                    flow.skip_phone(now())
            elif v.screen == "thanks":
                skew += thanks
            flow.tick(now())
            if time.monotonic() >= state_due:
                state_due = time.monotonic() + 0.2
                atomic_write_json(t.storage / "robot-state.json",
                                  {"screen": flow.view.screen, "pending_events": flow.pending_events + events.qsize(),
                                   "stored": outbox.count, "counters": dict(flow.counters)})
            if flow.view.screen in ("idle", "serving"):
                time.sleep(0.005)
    finally:
        source.stop()
        atomic_write_json(t.storage / "robot-state.json",
                          {"screen": flow.view.screen, "pending_events": flow.pending_events,
                           "stored": outbox.count, "counters": dict(flow.counters), "stopped": True})
        outbox.outbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
