"""hall-queue-sim against a real kiosk source (MQTT broker, pty) that answers the back-channel."""
import random
import signal
import subprocess
import sys
import threading

import pytest

from hallcore.config import Table
from kiosk.events import load_matters
from halldemo.ptylink import PtyLink
from kiosk.lineprotocol import LineProfile, LineSplitter
from kiosk.simulator import DEFAULT_MATTERS, DONE_MARGIN_S, done_wait_s, main, plan_tickets
from kiosk.sources import open_source
from tests.support.paths import CONFIG
from tests.support.waiting import wait_for

FAST = ["--rate", "6000", "--service-time", "0-0.02", "--cancel-ratio", "0", "--seed", "7",
        "--done-timeout", "10"]


class AnsweringKiosk:
    """A kiosk stand-in built from the real source: answers every finish with done."""

    def __init__(self, queue_table):
        self.events = []
        self.source = open_source(Table(queue_table, "queue"), hall_id="taojiang", window_id="03",
                                  config_dir=".")

    def __enter__(self):
        self.source.start(self._take)
        return self

    def _take(self, event):
        self.events.append(event)
        if event.kind == "finish":
            self.source.send_done(event.ticket, len(event.matters), 0)

    def __exit__(self, *exc):
        self.source.stop()


def run_in_thread(argv):
    result = {}
    stop = threading.Event()
    t = threading.Thread(target=lambda: result.update(rc=main(argv, stop)))
    t.start()
    return t, stop, result


def test_plan_draws_one_to_three_real_matters_and_is_reproducible():
    matters = load_matters(DEFAULT_MATTERS)
    plan = list(plan_tickets(random.Random(1), matters, window="03", count=50, service=(1, 2), cancel_ratio=0.2))
    assert [p.call.ticket for p in plan[:2]] == ["A001", "A002"]
    assert {len(p.call.matters) for p in plan} == {1, 2, 3}
    assert all(set(p.call.matters) <= set(matters) and 1 <= p.service_seconds <= 2 for p in plan)
    assert {p.outcome for p in plan} == {"finish", "cancel"}
    assert plan == list(plan_tickets(random.Random(1), matters, window="03", count=50, service=(1, 2),
                                     cancel_ratio=0.2))


def test_mqtt_simulation_waits_for_each_back_channel(mosquitto):
    with AnsweringKiosk({"source": "mqtt", "mqtt": {"host": mosquitto.host, "port": mosquitto.port}}) as k:
        wait_for(lambda: k.source.status.connected, what="kiosk connected")
        rc = main(["--mqtt", mosquitto.url, "--count", "3", "--wait-done", *FAST])
    assert rc == 0
    assert [(e.kind, e.ticket) for e in k.events] == [("call", "A001"), ("finish", "A001"), ("call", "A002"),
                                                      ("finish", "A002"), ("call", "A003"), ("finish", "A003")]
    assert all(1 <= len(e.matters) <= 3 for e in k.events)


def test_serial_simulation_over_its_own_pty(tmp_path):
    link = tmp_path / "ttySIM"
    t, stop, result = run_in_thread(["--serial", "--link", str(link), "--count", "2", "--wait-done", *FAST])
    try:
        wait_for(link.exists, what="pty link")
        with AnsweringKiosk({"source": "serial", "serial": {"port": str(link)}}) as k:
            t.join(30)
    finally:
        stop.set()
        t.join(10)
    assert result["rc"] == 0
    assert [(e.kind, e.ticket) for e in k.events] == [("call", "A001"), ("finish", "A001"),
                                                      ("call", "A002"), ("finish", "A002")]


def test_missing_back_channel_gives_up_says_so_and_calls_the_next_ticket(tmp_path, capsys):
    rc = main(["--serial", "--link", str(tmp_path / "tty"), "--count", "2", "--wait-done", "--open-timeout", "0",
               *FAST[:-1], "0.2"])
    assert rc == 1
    out = capsys.readouterr().out.splitlines()
    gave_up = [line for line in out if line.startswith("gave up")]
    assert gave_up == ["gave up waiting for done A001 after 0.2 s (--done-timeout); calling the next ticket",
                       "gave up waiting for done A002 after 0.2 s (--done-timeout); calling the next ticket"]
    assert out.index(gave_up[0]) < next(i for i, line in enumerate(out) if line.startswith("call   A002"))


def test_the_wait_for_done_is_the_kiosks_own_walk_away_bound():
    # one matter: thank-you of the previous ticket, then rating, reasons and phone each up to timeout_s
    assert done_wait_s(1, timeout_s=60, thanks_s=3) == 3 + 3 * 60 + DONE_MARGIN_S
    assert done_wait_s(3, timeout_s=60, thanks_s=3) == 3 + 9 * 60 + DONE_MARGIN_S
    assert done_wait_s(0, timeout_s=10, thanks_s=1, margin_s=0) == 31    # a finish without matters asks one
    assert done_wait_s(2, timeout_s=20, thanks_s=3) < done_wait_s(2, timeout_s=30, thanks_s=3)


def test_the_bound_is_read_from_the_kiosks_tablet_file(tmp_path, capsys):
    tablet = tmp_path / "tablet.toml"
    tablet.write_text((CONFIG / "demo.toml").read_text(encoding="utf-8").replace(
        "[kiosk]\n", "[kiosk]\ntimeout_s = 10\nreminder_after_s = 5\nthanks_s = 1\n")
        .replace('holiday_file = "holidays.toml"', f'holiday_file = "{CONFIG / "holidays.toml"}"'),
        encoding="utf-8")
    stop = threading.Event()
    threading.Timer(0.5, stop.set).start()       # stops it while it waits for A001's done
    rc = main(["--serial", "--link", str(tmp_path / "tty"), "--count", "1", "--wait-done", "--open-timeout", "0",
               *FAST[:-2], "--kiosk-config", str(tablet)], stop)
    assert rc == 0                                # stopped: not a missing back-channel
    out = capsys.readouterr().out
    assert f"waiting for done up to 1 s + matters x 3 screens x 10 s + {DONE_MARGIN_S:g} s" in out
    assert "call   A001" in out and "gave up" not in out
    bad = tmp_path / "bad.toml"
    bad.write_text("[kiosk]\ntimeout_s = 1\n", encoding="utf-8")
    assert main(["--serial", "--link", str(tmp_path / "tty"), "--count", "1", "--wait-done",
                 "--open-timeout", "0", "--kiosk-config", str(bad)]) == 2
    assert "--kiosk-config" in capsys.readouterr().err


def test_serial_port_mode_writes_default_protocol_lines(tmp_path):
    pty = PtyLink(tmp_path / "ttyQS")
    try:
        assert main(["--serial-port", str(pty.path), "--count", "2", "--encoding", "utf-8", *FAST]) == 0
        splitter, lines = LineSplitter(encoding="utf-8"), []
        wait_for(lambda: lines.extend(splitter.feed(pty.read(0.1))) or len(lines) >= 4, what="4 lines")
    finally:
        pty.close()
    events = [LineProfile.default().parse_line(line, window="03") for line in lines]
    assert [(e.kind, e.ticket) for e in events] == [("call", "A001"), ("finish", "A001"),
                                                    ("call", "A002"), ("finish", "A002")]
    assert events[0].ts is not None


def test_stop_ends_a_long_run_early(tmp_path):
    t, stop, result = run_in_thread(["--serial", "--link", str(tmp_path / "tty"), "--count", "10000",
                                     "--service-time", "30-60"])
    wait_for((tmp_path / "tty").exists, what="started")
    stop.set()                                      # while it waits for the kiosk to open the port
    t.join(10)
    assert not t.is_alive() and result["rc"] == 0
    assert not (tmp_path / "tty").exists()          # the pty link is removed on the way out


def test_sigterm_stops_the_command(tmp_path):
    link = tmp_path / "tty"
    proc = subprocess.Popen([sys.executable, "-m", "kiosk.simulator", "--serial", "--link", str(link),
                             "--open-timeout", "0", "--count", "10000", "--service-time", "30-60"],
                            stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().startswith("kiosk-side serial port:")
        assert proc.stdout.readline().startswith("call   A001")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        proc.kill()
        proc.wait(10)
        proc.stdout.close()
    assert not link.exists()


@pytest.mark.parametrize("argv", [["--count", "0"], ["--rate", "0"], ["--cancel-ratio", "2"]])
def test_bad_arguments_exit_2(tmp_path, argv):
    assert main(["--serial", "--link", str(tmp_path / "t"), "--open-timeout", "0", *argv]) == 2
