"""`make demo`: a queue system, a broker and the kiosk, on the embedded defaults.

Starts mosquitto on a free loopback port (or, without /usr/sbin/mosquitto, a
serial link over a pseudo-terminal), the queue simulator (kiosk.simulator)
calling and finishing tickets at window 03, and the kiosk in a window using
config/demo.toml (records go to var/demo/outbox; admin: five taps in the
top-right corner, PIN 123456). Ctrl-C stops everything.

    python -m kiosk.demo [--offscreen --seconds 30]   # offscreen: no display needed
"""
from __future__ import annotations

import argparse
import dataclasses
import getpass
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from hallcore.config import ConfigError
from kiosk.config import load_kiosk_config

ROOT = Path(__file__).resolve().parent.parent
DEMO_CONFIG = ROOT / "config" / "demo.toml"
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


def queue_for(config, port: int | None) -> dict:
    if port is not None:
        return {"source": "mqtt", "mqtt": {"host": "127.0.0.1", "port": port}}
    return {"source": "serial", "serial": {"port": str(PTY_LINK), "encoding": "gbk"}}


def simulator_args(port: int | None, hall: str, window: str, fast: bool) -> list[str]:
    link = ["--mqtt", f"mqtt://127.0.0.1:{port}"] if port is not None else ["--serial", "--link", str(PTY_LINK)]
    pace = ["--rate", "30", "--service-time", "2-4"] if fast else ["--rate", "6", "--service-time", "4-10"]
    return link + ["--hall", hall, "--window", window, "--count", "10000", "--wait-done",
                   "--done-timeout", "600"] + pace


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="kiosk.demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, default=DEMO_CONFIG)
    ap.add_argument("--offscreen", action="store_true", help="render without a display (smoke runs)")
    ap.add_argument("--seconds", type=float, default=0, help="stop after this long (0: run until Ctrl-C)")
    ap.add_argument("--fast", action="store_true", help="call tickets every few seconds")
    ap.add_argument("--storage", type=Path, help="journal and outbox folder instead of the config's")
    args = ap.parse_args(argv)
    try:
        config = load_kiosk_config(args.config)
    except ConfigError as e:
        print(f"demo: config error: {e}", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="hall-demo-"))
    broker, port = (None, None)
    if MOSQUITTO.exists():
        broker, port = start_mosquitto(work)
        print(f"demo: mosquitto on 127.0.0.1:{port}", flush=True)
    else:
        print(f"demo: no mosquitto; queue over a pty at {PTY_LINK}", flush=True)
    config = dataclasses.replace(config, queue=queue_for(config, port))
    if args.storage:
        config = dataclasses.replace(config, tablet=dataclasses.replace(
            config.tablet, storage=args.storage, outbox_folder=args.storage / "outbox"))
    t = config.tablet
    stop = threading.Event()
    from kiosk import simulator
    sim = threading.Thread(target=simulator.main, name="queue-sim", daemon=True,
                           args=(simulator_args(port, t.hall_id, t.window_id, args.fast), stop))
    from kiosk.ui.app import build_kiosk
    app, source, outbox = build_kiosk(config, offscreen=args.offscreen,
                                      size=(1280, 800) if args.offscreen or not config.fullscreen else None)
    print(f"demo: kiosk window {t.window_id}, records in {t.outbox_folder}; Ctrl-C stops", flush=True)
    from kivy.clock import Clock
    last = {"screen": None}

    def report(dt) -> None:       # what the kiosk shows, for the console (and the smoke test)
        v = app.flow.view
        if v.screen != last["screen"]:
            last["screen"] = v.screen
            print(f"screen {v.screen} {v.ticket or ''} {v.matter_name or ''}".rstrip(), flush=True)

    Clock.schedule_interval(report, 0.2)
    if args.seconds:
        Clock.schedule_once(lambda dt: app.exit_kiosk(), args.seconds)
    source.start(app.post_event)
    sim.start()
    try:
        app.run()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        source.stop()
        sim.join(5)
        print(f"demo: stopped; outbox {outbox.counts()}", flush=True)
        outbox.close()
        if broker is not None:
            broker.terminate()
            try:
                broker.wait(5)
            except subprocess.TimeoutExpired:
                broker.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
