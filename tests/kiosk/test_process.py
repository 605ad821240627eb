"""hall-kiosk as the process systemd runs: it starts on a tablet file with its
queue link down, and stops cleanly on SIGTERM and SIGINT (SDL would otherwise
turn them into a window-close request, which the kiosk vetoes); in test mode
its records go to a folder the agent never sends."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys

import pytest

from tests.support.mosquitto import free_port
from tests.support.tablet_toml import write_tablet
from tests.support.waiting import wait_for
from tests.support.paths import REPO

LOOP_STARTED = "Start application main loop"     # Kivy's log line once the window exists


@pytest.mark.parametrize("sig,test_mode", [(signal.SIGTERM, False), (signal.SIGINT, True)],
                         ids=["SIGTERM", "SIGINT-test-mode"])
def test_hall_kiosk_exits_zero_on_a_stop_signal(tmp_path, sig, test_mode):
    # nothing listens on the port: the kiosk must run (and stop) without its queue link
    config = write_tablet(tmp_path, {"queue.mqtt.port": free_port(), "kiosk.fullscreen": False,
                                     "kiosk.test_mode": test_mode, "storage.folder": str(tmp_path / "var")})
    # a tablet whose OS zone is UTC: the log still reads in the hall's time
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", KIVY_HOME=str(tmp_path / "kivy"), TZ="UTC")
    for inherited in ("SDL_NO_SIGNAL_HANDLERS", "KIVY_NO_CONSOLELOG"):   # set by the UI tests' harness
        env.pop(inherited, None)
    log = tmp_path / "kiosk.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "--config", str(config)],
                                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: LOOP_STARTED in log.read_text(errors="replace") or proc.poll() is not None,
                 timeout=60, what="the kiosk's main loop")
        assert proc.poll() is None, log.read_text()[-3000:]
        assert "hall-kiosk: window 03 of taojiang, device tab-03" in log.read_text()
        proc.send_signal(sig)
        assert proc.wait(timeout=30) == 0, log.read_text()[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    [stopping] = [ln for ln in log.read_text().splitlines() if f"stopping on {sig.name}" in ln]
    assert re.match(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}\+08:00 \[WARNING\] \[Kiosk", stopping), stopping
    # hall IT reads this log: a healthy start and stop has no error in it
    assert not [ln for ln in log.read_text().splitlines() if "ERROR" in ln or "CRITICAL" in ln]
    # test mode keeps its records where the agent never looks
    assert (tmp_path / "var" / "outbox").is_dir() is not test_mode
    assert (tmp_path / "var" / "test-outbox").is_dir() is test_mode
    assert ("TEST MODE: never sent" in log.read_text()) is test_mode


def test_hall_kiosk_whose_outbox_cannot_be_opened_names_the_file_and_exits_3(tmp_path, small_disk):
    config = write_tablet(tmp_path, {"queue.mqtt.port": free_port(), "kiosk.fullscreen": False,
                                     "storage.folder": str(small_disk.path)})
    env = dict(os.environ, SDL_VIDEODRIVER="offscreen", KIVY_HOME=str(tmp_path / "kivy"))
    env.pop("SDL_NO_SIGNAL_HANDLERS", None)
    env["KIVY_NO_CONSOLELOG"] = "1"     # the line must reach stderr even without Kivy's console log
    small_disk.fill()             # a first start on a full disk: the outbox cannot write seq.json
    done = subprocess.run([sys.executable, "-m", "kiosk.cli", "--config", str(config)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=120)
    out = done.stdout + done.stderr
    assert done.returncode == 3, out[-3000:]
    [line] = [ln for ln in out.splitlines() if ln.strip().startswith("hall-kiosk: cannot start: ")]
    assert str(small_disk.path / "outbox" / "seq.json") in line and "No space left on device" in line
    assert "Traceback" not in out
