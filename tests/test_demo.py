"""make demo's parts run together: mosquitto, the queue simulator and the
kiosk (offscreen); a simulated ticket travels over MQTT to the rating screen."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_demo_brings_a_simulated_ticket_to_the_rating_screen(tmp_path):
    env = dict(os.environ, KIVY_NO_CONSOLELOG="1", KIVY_HOME=str(tmp_path / "kivy"))
    proc = subprocess.run([sys.executable, "-m", "kiosk.demo", "--offscreen", "--seconds", "12", "--fast",
                           "--storage", str(tmp_path / "store")],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=90)
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "demo: mosquitto on 127.0.0.1:" in out
    assert "screen idle" in out
    assert "screen rating A001" in out, out
    assert "demo: stopped" in out
    assert (tmp_path / "store" / "kiosk-journal.json").exists()   # the open evaluation is journaled
