"""`make demo`: the whole chain on one machine, on the embedded defaults.

Starts mosquitto on a free loopback port (or, without /usr/sbin/mosquitto, a
serial link over a pseudo-terminal), the center (SQLite) with the demo tablet
enrolled and the agent (halldemo.backend), the queue simulator
(kiosk.simulator) calling and finishing tickets at window 03, and the kiosk in
a window using config/demo.toml. Records go to var/demo/outbox and on to the
center; its dashboard is at http://127.0.0.1:18080/ (login demo /
demo-hall-2026). Admin screen: five taps in the top-right corner, PIN 123456.
Ctrl-C stops everything.

    python -m halldemo [--offscreen --seconds 30 --citizen]   # offscreen: no display needed
"""
from __future__ import annotations

import argparse
import random
import getpass
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import tomli_w

from hallcore.config import ConfigError, load_toml
from hallcore.packagedata import CONFIG, shipped
from kiosk.config import load_kiosk_config

DEMO_CONFIG = shipped(CONFIG, "demo.toml")
MOSQUITTO = Path("/usr/sbin/mosquitto")
PTY_LINK = Path(tempfile.gettempdir()) / "hall-demo-queue.tty"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_mosquitto(folder: Path) -> tuple[subprocess.Popen, int]:
    port = free_port()
    conf = folder / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nuser {getpass.getuser()}\nallow_anonymous true\n"
                    f"log_dest file {folder / 'mosquitto.log'}\n")
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


def queue_for(port: int | None) -> dict:
    if port is not None:
        return {"source": "mqtt", "mqtt": {"host": "127.0.0.1", "port": port}}
    return {"source": "serial", "serial": {"port": str(PTY_LINK), "encoding": "gbk"}}


def simulator_args(port: int | None, hall: str, window: str, fast: bool) -> list[str]:
    link = ["--mqtt", f"mqtt://127.0.0.1:{port}"] if port is not None else ["--serial", "--link", str(PTY_LINK)]
    pace = ["--rate", "30", "--service-time", "2-4"] if fast else ["--rate", "6", "--service-time", "4-10"]
    return link + ["--hall", hall, "--window", window, "--count", "10000", "--wait-done",
                   "--done-timeout", "600"] + pace


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
    data["queue"] = queue_for(broker_port)
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


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="halldemo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=DEMO_CONFIG)
    ap.add_argument("--offscreen", action="store_true", help="render without a display (smoke runs)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: run until Ctrl-C)")
    ap.add_argument("--fast", action="store_true", help="call tickets every few seconds")
    ap.add_argument("--storage", type=Path, help="folder for this run's files (default var/demo in the current folder)")
    ap.add_argument("--center-port", type=int, default=18080, help="the center's port (0: any free port)")
    ap.add_argument("--no-backend", action="store_true", help="do not start the center and the agent")
    ap.add_argument("--citizen", action="store_true", help="a simulated citizen taps ratings")
    args = ap.parse_args(argv)
    if not args.offscreen and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        print("demo: no display (DISPLAY and WAYLAND_DISPLAY unset): running the kiosk offscreen "
              "with a simulated citizen; watch the records arrive on the dashboard", flush=True)
        args.offscreen = args.citizen = True
    folder = (args.storage or Path("var", "demo")).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    broker, port = (None, None)
    if MOSQUITTO.exists():
        (folder / "broker").mkdir(exist_ok=True)
        broker, port = start_mosquitto(folder / "broker")
        print(f"demo: mosquitto on 127.0.0.1:{port}", flush=True)
    else:
        print(f"demo: no mosquitto; queue over a pty at {PTY_LINK}", flush=True)
    try:
        tablet_file = demo_tablet_file(args.config.resolve(), folder, broker_port=port,
                                       center_port=args.center_port or free_port())
        config = load_kiosk_config(tablet_file)
    except ConfigError as e:
        print(f"demo: config error: {e}", file=sys.stderr)
        if broker is not None:
            broker.terminate()
        return 2
    backend = None
    if not args.no_backend:
        from halldemo.backend import start_backend
        try:
            backend = start_backend(tablet_file, mqtt_port=port)
        except RuntimeError as e:
            print(f"demo: {e}", file=sys.stderr)
            if broker is not None:
                broker.terminate()
            return 1
        print(f"demo: center dashboard {backend.dashboard} (login {backend.user} / {backend.password}); "
              f"agent running, log {folder / 'agent.log'}", flush=True)
    t = config.tablet
    stop = threading.Event()
    from kiosk import simulator
    sim = threading.Thread(target=simulator.main, name="queue-sim", daemon=True,
                           args=(simulator_args(port, t.hall_id, t.window_id, args.fast), stop))
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
    source.start(app.post_event)
    sim.start()
    try:
        app.run()
    finally:
        stop.set()
        source.stop()
        sim.join(5)
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
    return 0


if __name__ == "__main__":
    sys.exit(main())
