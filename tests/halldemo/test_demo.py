"""make demo's parts run together: mosquitto, the queue simulator, the kiosk
(offscreen), the agent and the center; simulated tickets travel over MQTT to
the rating screen, a simulated citizen rates them, and the records reach the
center, run after run."""
from __future__ import annotations

import json
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



def run_demo(cwd: Path, seconds: int, *extra: str) -> tuple[str, dict]:
    """`python -m halldemo` as make demo runs it, offscreen; its output and
    the JSON summary on its last line."""
    env = dict(os.environ, KIVY_HOME=str(cwd / "kivy"))
    env.pop("DISPLAY", None)
    env.pop("WAYLAND_DISPLAY", None)
    proc = subprocess.run([sys.executable, "-m", "halldemo", "--offscreen", "--citizen", "--fast",
                           "--seconds", str(seconds), "--center-port", "0", *extra],
                          cwd=cwd, env=env, capture_output=True, text=True, timeout=seconds + 120)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    last = proc.stdout.rstrip("\n").splitlines()[-1]
    return proc.stdout, json.loads(last)


def center_tickets(folder: Path) -> set[str]:
    with sqlite3.connect(folder / "center.sqlite3") as db:
        return {row[0] for row in db.execute(
            "SELECT json_extract(body, '$.ticket') FROM records WHERE device_id = 'demo-01'")}


def test_make_demo_runs_again_and_again_in_the_same_folder(tmp_path):
    """Two runs in a row where make demo runs (var/demo under the current
    folder; a temp folder here, so a developer's own runs are not pruned),
    then one that keeps the state: each carries its simulated tickets from
    the queue to the center, and no log of any run has an error line."""
    runs = []
    for seconds, extra in ((25, ()), (25, ()), (15, ("--keep-state",))):
        out, summary = run_demo(tmp_path, seconds, *extra)
        runs.append((out, summary, Path(summary["run_folder"])))
        assert "demo: mosquitto on 127.0.0.1:" in out and "demo: center dashboard http://127.0.0.1:" in out
        assert re.search(r"^screen rating A\d{3} ", out, re.M) and "screen thanks" in out, out
        assert "demo: stopped" in out and "gave up" not in out, out
        assert summary["records_this_run"] > 0, out
        assert summary["log_errors"] == 0, summary
        logs = summary["log_errors_by_file"]
        assert {"center.log", "agent.log", "kiosk.log", "mosquitto.log", "simulator.log"} <= set(logs), logs
        folder = runs[-1][2]
        done = re.findall(r"^done +(A\d{3}): rated", out, re.M)      # the simulator saw the back-channel
        assert done and set(done) <= center_tickets(folder), (out, (folder / "agent.log").read_text()[-2000:])
    (out1, _, first), (out2, _, second), (out3, kept, third) = runs
    assert first != second and first.parent == second.parent == tmp_path / "var" / "demo"
    assert re.search(r"^call +A001 ", out2, re.M)                        # fresh: numbering starts again
    assert (tmp_path / "var" / "demo" / "latest").resolve() == second
    assert (second / "kiosk-journal.json").exists()                    # the open evaluation is journaled
    # --keep-state: the second run's folder again, and tickets after those it evaluated
    assert third == second
    last_of_run2 = max(int(t[1:]) for t in re.findall(r"^done +(A\d{3})", out2, re.M))
    first_of_run3 = int(re.search(r"^call +A(\d{3}) ", out3, re.M).group(1))
    assert first_of_run3 > last_of_run2, out3
    assert len(center_tickets(third)) > len(re.findall(r"^done +A\d{3}", out3, re.M))   # run 2's are still there


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
