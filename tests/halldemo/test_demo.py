"""make demo's parts run together: mosquitto, the queue simulator, the kiosk
(offscreen), the agent and the center; simulated tickets travel over MQTT to
the rating screen, a simulated citizen rates them, and the records reach the
center."""
from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

from hallcore.hallclock import DEFAULT_TZ
from hallcore.record import SCALES
from halldemo.demo import citizen_action
from tests.support.paths import REPO



def test_demo_carries_simulated_tickets_from_queue_to_center(tmp_path):
    env = dict(os.environ, KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(tmp_path / "kivy"))
    store = tmp_path / "store"
    proc = subprocess.run([sys.executable, "-m", "halldemo", "--offscreen", "--seconds", "25", "--fast",
                           "--citizen", "--center-port", "0", "--storage", str(store)],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=150)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "demo: mosquitto on 127.0.0.1:" in out
    assert "demo: center dashboard http://127.0.0.1:" in out
    assert "screen idle" in out
    assert re.search(r"^screen rating A\d{3} ", out, re.M), out
    assert "screen thanks" in out, out
    done = re.findall(r"^done +(A\d{3}): rated", out, re.M)   # the simulator saw the back-channel
    assert done, out
    assert "demo: stopped" in out
    assert (store / "kiosk-journal.json").exists()   # the open evaluation is journaled
    with sqlite3.connect(store / "center.sqlite3") as db:
        tickets = {row[0] for row in db.execute("SELECT json_extract(body, '$.ticket') FROM records WHERE device_id = 'demo-01'")}
    assert done[0] in tickets, (out, (store / "agent.log").read_text()[-2000:])


class _View:
    def __init__(self, screen, age_s, selected=frozenset()):
        self.screen, self.levels = screen, SCALES[3].levels
        self.reasons, self.selected_reasons = ("拖拉推诿", "其他"), selected
        self.shown_at = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
        self.now = self.shown_at + timedelta(seconds=age_s)


def test_demo_citizen_waits_then_rates_and_gives_a_listed_reason():
    rng = random.Random(1)
    v = _View("rating", 1.0)
    assert citizen_action(v, rng, v.now) is None
    v = _View("rating", 2.0)
    name, rating = citizen_action(v, rng, v.now)
    assert name == "tap_rating" and rating in SCALES[3].names
    v = _View("reasons", 2.0)
    assert citizen_action(v, rng, v.now) == ("toggle_reason", "拖拉推诿")
    v = _View("reasons", 2.0, frozenset({"拖拉推诿"}))
    assert citizen_action(v, rng, v.now) == ("confirm_reasons", None)
    v = _View("phone", 2.0)
    assert citizen_action(v, rng, v.now) == ("skip_phone", None)
    v = _View("idle", 9.0)
    assert citizen_action(v, rng, v.now) is None
