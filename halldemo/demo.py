"""`make demo`: the whole chain on one machine, on the embedded defaults.

Starts mosquitto on a free loopback port (or, without /usr/sbin/mosquitto, a
serial link over a pseudo-terminal), the center (SQLite) with the demo tablet
enrolled and the agent (halldemo.backend), the queue simulator
(kiosk.simulator, a process of its own) calling and finishing tickets at
window 03, and the kiosk in a window using config/demo.toml. Every run has a
fresh folder, var/demo/run-<time>/ (halldemo.runs), holding its outbox,
journal, center database and every process's log; var/demo/latest points at
it. The dashboard is at http://127.0.0.1:18080/ (login demo /
demo-hall-2026). Admin screen: five taps in the top-right corner, PIN 123456.
Ctrl-C stops everything. The last line printed is a JSON summary of the run
(records_this_run, cases_opened, log_errors).

    python -m halldemo [--offscreen --seconds 30 --fast --citizen --keep-state]
"""
from __future__ import annotations

import argparse
import getpass
import json
import logging
import os
import random
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime
from pathlib import Path

import tomli_w

from hallcore.config import ConfigError, load_toml
from hallcore.packagedata import CONFIG, shipped
from halldemo.runs import choose_run_folder, first_free_ticket, log_errors
from kiosk.config import load_kiosk_config

DEMO_CONFIG = shipped(CONFIG, "demo.toml")
DEMO_ROOT = Path("var") / "demo"          # under the folder the demo runs in (the checkout for make demo)
MOSQUITTO = Path("/usr/sbin/mosquitto")
DRAIN_S = 15.0        # at the end, how long the agent may take to carry the last records


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nuser {getpass.getuser()}\nallow_anonymous true\n"
                    f"log_dest file {folder / 'mosquitto.log'}\nlog_timestamp_format %Y-%m-%dT%H:%M:%S\n")
    proc = subprocess.Popen([str(MOSQUITTO), "-c", str(conf)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:           # bounded wait for the listener
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, port
        except OSError:
            if proc.poll() is not None:
                break
            time.sleep(0.1)
    proc.kill()
    raise SystemExit(f"mosquitto did not start on port {port}; see {folder / 'mosquitto.log'}")


def pty_link(folder: Path) -> Path:
    return folder / "queue.tty"


def queue_for(port: int | None, folder: Path) -> dict:
    if port is not None:
        return {"source": "mqtt", "mqtt": {"host": "127.0.0.1", "port": port}}
    return {"source": "serial", "serial": {"port": str(pty_link(folder)), "encoding": "gbk"}}


def simulator_args(port: int | None, tablet_file: Path, hall: str, window: str, fast: bool,
                   first: int = 1) -> list[str]:
    """The queue simulator's arguments: it waits for each "done" as long as the
    kiosk of `tablet_file` may take (its walk-away bound), then goes on."""
    link = (["--mqtt", f"mqtt://127.0.0.1:{port}"] if port is not None
            else ["--serial", "--link", str(pty_link(tablet_file.parent))])
    pace = ["--rate", "30", "--service-time", "2-4"] if fast else ["--rate", "6", "--service-time", "4-10"]
    return link + ["--hall", hall, "--window", window, "--count", "10000", "--first", str(first),
                   "--wait-done", "--kiosk-config", str(tablet_file)] + pace


def demo_tablet_file(src: Path, folder: Path, *, broker_port: int | None, center_port: int) -> Path:
    """The demo config with this run's folder and ports, as folder/tablet.toml.

    The kiosk and the agent (a separate process) must read the same file, so
    the run's choices are written out rather than patched in memory.
    """
    data = load_toml(src)

    def absolute(table: dict, key: str) -> None:
        if key in table:
            table[key] = str((src.parent / table[key]).resolve())

    absolute(data.setdefault("office", {}), "holiday_file")
    absolute(data.setdefault("kiosk", {}), "font")
    data["storage"] = {"folder": str(folder), "outbox": str(folder / "outbox")}
    data["queue"] = queue_for(broker_port, folder)
    center = data.setdefault("center", {})
    absolute(center, "ca_file")
    center.update(url=f"http://127.0.0.1:{center_port}", token_file=str(folder / "device.token"))
    agent = data.setdefault("agent", {})
    agent["log_file"] = str(folder / "agent.log")
    if broker_port is not None:
        agent["mqtt"] = {**agent.get("mqtt", {}), "host": "127.0.0.1", "port": broker_port}
    else:
        agent.pop("mqtt", None)
    path = folder / "tablet.toml"
    path.write_text("# written by halldemo/demo.py for this run\n" + tomli_w.dumps(data), encoding="utf-8")
    return path


def citizen_action(view, rng: random.Random, now) -> tuple[str, str | None] | None:
    """What a demo citizen does next on `view` (pure): mostly content, sometimes
    a bad review with one reason and no phone. None: wait."""
    if view.screen not in ("rating", "reasons", "phone") or (now - view.shown_at).total_seconds() < 1.5:
        return None
    if view.screen == "rating":
        weights = [1 if lv.bad else (6 if i == 0 else 2) for i, lv in enumerate(view.levels)]
        return "tap_rating", rng.choices(view.levels, weights)[0].name
    if view.screen == "reasons":
        if not view.selected_reasons:
            return "toggle_reason", rng.choice([r for r in view.reasons if r != "其他"] or view.reasons)
        return "confirm_reasons", None
    return "skip_phone", None


def log_kiosk_to(path: Path) -> None:
    """This process's log (the kiosk's, Kivy's and anything on stderr) goes to
    `path`, not to the console. Must run before Kivy is imported: Kivy reads
    these at import, and with KIVY_NO_CONFIG it neither reads nor writes a
    per-user config (whose first-time upgrade logs two WARNINGs)."""
    for var in ("KIVY_NO_CONSOLELOG", "KIVY_NO_FILELOG", "KIVY_NO_CONFIG"):
        os.environ.setdefault(var, "1")
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.INFO)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.getLogger().addHandler(handler)


def wait_until(condition, seconds: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(step)
    return True


class Simulator:
    """hall-queue-sim as a process of its own; its output goes to
    simulator.log in the run folder and to the console."""

    def __init__(self, args: list[str], log_path: Path):
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "kiosk.simulator", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     encoding="utf-8", errors="replace")
        self._tee = threading.Thread(target=self._copy, args=(log_path,), name="sim-output", daemon=True)
        self._tee.start()

    def _copy(self, log_path: Path) -> None:
        with log_path.open("a", encoding="utf-8") as log:
            for line in self.proc.stdout:       # ends when the simulator exits
                log.write(line)
                log.flush()
                print(line, end="", flush=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()               # it stops at once on SIGTERM
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self._tee.join(5)


def next_ticket_number(journal_path: Path, today: str) -> int:
    """Where this run's tickets start: after those the kiosk already evaluated
    today (a kept state remembers them and would ignore them as replays)."""
    from kiosk.journal import Journal, JournalError, JournalState
    try:
        data = Journal(journal_path).load()
        state = JournalState.from_json(data) if data else None
    except (JournalError, OSError, ValueError):
        return 1
    return first_free_ticket(state.done) if state is not None and state.day == today else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="halldemo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=DEMO_CONFIG)
    ap.add_argument("--offscreen", action="store_true", help="render without a display (smoke runs)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: run until Ctrl-C)")
    ap.add_argument("--fast", action="store_true", help="call tickets every few seconds")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--keep-state", action="store_true",
                       help="continue in the newest var/demo/run-* folder (outbox, journal, center database)")
    where.add_argument("--storage", type=Path, help="use this folder for the run's files, kept between runs")
    ap.add_argument("--center-port", type=int, default=18080, help="the center's port (0: any free port)")
    ap.add_argument("--no-backend", action="store_true", help="do not start the center and the agent")
    ap.add_argument("--citizen", action="store_true", help="a simulated citizen taps ratings")
    args = ap.parse_args(argv)
    if not args.offscreen and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("demo: no display (DISPLAY and WAYLAND_DISPLAY unset): running the kiosk offscreen "
              "with a simulated citizen; watch the records arrive on the dashboard", flush=True)
        args.offscreen = args.citizen = True
    if args.storage:
        folder = args.storage.resolve()
        folder.mkdir(parents=True, exist_ok=True)
    else:
        folder = choose_run_folder(DEMO_ROOT.resolve(), datetime.now(), keep_state=args.keep_state)
    print(f"demo: run folder {folder} (every log of the run is there)", flush=True)
    log_kiosk_to(folder / "kiosk.log")
    broker, port = (None, None)
    if MOSQUITTO.exists():
        broker, port = start_mosquitto(folder)
        print(f"demo: mosquitto on 127.0.0.1:{port}", flush=True)
    else:
        print(f"demo: no mosquitto; queue over a pty at {pty_link(folder)}", flush=True)
    try:
        tablet_file = demo_tablet_file(args.config.resolve(), folder, broker_port=port,
                                       center_port=args.center_port or free_port())
        config = load_kiosk_config(tablet_file)
    except ConfigError as e:
        print(f"demo: config error: {e}", file=sys.stderr)
        if broker is not None:
            broker.terminate()
        return 2
    backend = before = None
    if not args.no_backend:
        from halldemo.backend import start_backend
        try:
            backend = start_backend(tablet_file, mqtt_port=port)
        except RuntimeError as e:
            print(f"demo: {e}", file=sys.stderr)
            if broker is not None:
                broker.terminate()
            return 1
        before = backend.center_counts()
        print(f"demo: center dashboard {backend.dashboard} (login {backend.user} / {backend.password}); "
              f"agent running, log {folder / 'agent.log'}", flush=True)
    t = config.tablet
    from kiosk.ui.app import build_kiosk, hall_now, stop_on_signals
    app, source, outbox = build_kiosk(config, offscreen=args.offscreen,
                                      size=(1280, 800) if args.offscreen or not config.fullscreen else None)
    stop_on_signals(app)      # Ctrl-C or SIGTERM: stop the kiosk, then everything it started
    print(f"demo: kiosk window {t.window_id}, records in {config.outbox_folder}; Ctrl-C stops", flush=True)
    from kivy.clock import Clock
    last = {"screen": None}
    rng = random.Random()

    def report(dt) -> None:       # what the kiosk shows, for the console (and the smoke test)
        v = app.flow.view
        if v.screen != last["screen"]:
            last["screen"] = v.screen
            print(f"screen {v.screen} {v.ticket or ''} {v.matter_name or ''}".rstrip(), flush=True)

    def citizen(dt) -> None:      # taps through the app, as the screen's buttons do
        action = citizen_action(app.flow.view, rng, hall_now())
        if action is not None:
            name, arg = action
            getattr(app, name)(*([arg] if arg is not None else []))

    Clock.schedule_interval(report, 0.2)
    if args.citizen:
        Clock.schedule_interval(citizen, 0.5)
    if args.seconds:
        Clock.schedule_once(lambda dt: app.exit_kiosk(), args.seconds)
    first = next_ticket_number(config.journal_path, hall_now().date().isoformat())
    sim_args = simulator_args(port, tablet_file, t.hall_id, t.window_id, args.fast, first)
    if port is not None:          # a call published before the kiosk subscribed would be lost
        source.start(app.post_event)
        wait_until(lambda: source.status.connected, 10)
        sim = Simulator(sim_args, folder / "simulator.log")
    else:                         # the simulator makes the pty the kiosk opens
        sim = Simulator(sim_args, folder / "simulator.log")
        wait_until(pty_link(folder).exists, 10)
        source.start(app.post_event)
    try:
        app.run()
    finally:
        source.stop()             # the kiosk first: the queue system going away is no news to it
        sim.stop()
        if backend is not None:   # let the agent carry what the last citizen rated
            wait_until(lambda: outbox.counts()["pending"] == 0 or not backend.alive(), DRAIN_S, 0.2)
        print(f"demo: stopped; outbox {outbox.counts()}", flush=True)
        outbox.close()
        if backend is not None:
            backend.stop()
        if broker is not None:
            broker.terminate()
            try:
                broker.wait(5)
            except subprocess.TimeoutExpired:
                broker.kill()
    after = backend.center_counts() if backend is not None else None
    errors = log_errors(folder)
    print(json.dumps({
        "records_this_run": after["records"] - before["records"] if after else None,
        "cases_opened": after["cases"] - before["cases"] if after else None,
        "log_errors": sum(errors.values()),
        "log_errors_by_file": errors,
        "run_folder": str(folder),
    }, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
