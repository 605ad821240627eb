"""hall-queue-sim: plays a queue-number system (排队叫号) for demos and tests.

Calls tickets with one to three matters from config/matters.toml, finishes
them (or, now and then, cancels a no-show) after a random service time, over
MQTT (DESIGN §4 JSON) or a serial line (the default line protocol). With
--wait-done it waits for the kiosk's back-channel before calling the next
ticket, as long as the kiosk itself may take (--kiosk-config: its walk-away
timeout, see done_wait_s), then says it gives up and calls the next one.
Always bounded (--count) and stops cleanly on Ctrl-C / SIGTERM.

    hall-queue-sim --mqtt mqtt://127.0.0.1:1883 --hall taojiang --window 03 --count 5 --wait-done \
        --kiosk-config /etc/hall/tablet.toml
    hall-queue-sim --serial --link /tmp/ttyQUEUE      # prints the path the kiosk opens
"""
from __future__ import annotations

import argparse
import queue
import random
import signal
import sys
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import urlparse

from hallcore.hallclock import hall_now
from hallcore.packagedata import CONFIG, shipped
from kiosk.events import (Done, EventError, Matter, TicketEvent, event_to_json, load_matters,
                          parse_done_payload)
from kiosk.lineprotocol import LineSplitter, format_default_line, parse_done_line

DEFAULT_MATTERS = shipped(CONFIG, "matters.toml")
DONE_MARGIN_S = 10.0      # the link's and the machine's share of the wait for "done"
DEFAULT_DONE_TIMEOUT_S = 120.0
STAFF = (("1024", "张敏"), ("1031", "李建国"), ("1046", "王芳"), ("1052", "刘洋"))


@dataclass(frozen=True)
class PlannedTicket:
    call: TicketEvent
    service_seconds: float
    outcome: str          # "finish" or "cancel"

    def end(self) -> TicketEvent:
        c = self.call
        return TicketEvent(self.outcome, c.ticket, c.window, c.staff_id, c.staff_name, c.case_no,
                           c.matters if self.outcome == "finish" else ())


def plan_tickets(rng: random.Random, matters: Sequence[Matter], *, window: str, count: int,
                 service: tuple[float, float], cancel_ratio: float = 0.0, first: int = 1,
                 prefix: str = "A") -> Iterator[PlannedTicket]:
    """The tickets to play, deterministic for a given rng (pure)."""
    staff_id, staff_name = rng.choice(STAFF)
    for n in range(first, first + count):
        picked = tuple(rng.sample(list(matters), k=min(len(matters), rng.randint(1, 3))))
        call = TicketEvent("call", f"{prefix}{n:03d}", window, staff_id, staff_name,
                           case_no=f"SIM{window}{n:05d}", matters=picked)
        outcome = "cancel" if rng.random() < cancel_ratio else "finish"
        yield PlannedTicket(call, rng.uniform(*service), outcome)


def done_wait_s(matters: int, *, timeout_s: float, thanks_s: float, margin_s: float = DONE_MARGIN_S) -> float:
    """The longest a kiosk takes to answer "done" for a finished ticket (pure):
    the previous ticket's thank-you, then for each matter up to three screens
    (rating, reasons, phone), each answered just before its walk-away timeout
    (a walk-away closes every remaining matter at once), plus a margin."""
    return thanks_s + max(1, matters) * 3 * timeout_s + margin_s


class MqttLink:
    def __init__(self, url: str, hall: str, window: str):
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion
        from kiosk.sources.mqtt import topics

        u = urlparse(url)
        if u.scheme != "mqtt" or not u.hostname:
            raise SystemExit(f"--mqtt: expected mqtt://host[:port], got {url!r}")
        self.topics = topics(hall, window)
        self.done: queue.Queue[Done] = queue.Queue()
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"queue-sim-{hall}-{window}")
        self.client.on_message = self._on_message
        self.client.on_connect = lambda c, *a: c.subscribe(self.topics["evaluation"], qos=1)
        self.client.connect(u.hostname, u.port or 1883)
        self.client.loop_start()

    def _on_message(self, client, userdata, msg) -> None:
        try:
            self.done.put(parse_done_payload(msg.payload))
        except EventError as e:
            print(f"ignored back-channel message: {e}", file=sys.stderr)

    def send(self, event: TicketEvent) -> None:
        self.client.publish(self.topics["queue"], event_to_json(event), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


class SerialLink:
    """The queue system's end of a serial line: a new pty pair, or an existing port."""

    def __init__(self, *, link_path: Path | None, port: str | None, encoding: str, open_timeout: float,
                 stop: threading.Event):
        self.encoding = encoding
        self.done: queue.Queue[Done] = queue.Queue()
        self.pty = self.port = None
        if port:
            import serial
            self.port = serial.Serial(port, 9600, timeout=0.2)
        else:
            from halldemo.ptylink import PtyLink
            self.pty = PtyLink(link_path)
            print(f"kiosk-side serial port: {self.pty.path}", flush=True)
            # data written before the kiosk opens the port would be discarded by it
            deadline = time.monotonic() + open_timeout
            while not self.pty.wait_opened(0.2) and not stop.is_set() and time.monotonic() < deadline:
                pass
            if not stop.is_set() and time.monotonic() >= deadline:
                print(f"the kiosk did not open {self.pty.path} within {open_timeout:g} s; "
                      "sending anyway", file=sys.stderr)
        self._stop = threading.Event()
        self._reader = threading.Thread(target=self._read, name="sim-back-channel", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        splitter = LineSplitter(encoding=self.encoding)
        while not self._stop.is_set():
            try:
                data = self.pty.read(0.2) if self.pty else self.port.read(256)
            except OSError as e:       # pyserial's SerialException is an OSError too
                print(f"back-channel reader stopped: {e}", file=sys.stderr)
                return
            for line in splitter.feed(data):
                try:
                    self.done.put(parse_done_line(line))
                except EventError as e:
                    print(f"ignored back-channel line: {e}", file=sys.stderr)

    def send(self, event: TicketEvent) -> None:
        data = format_default_line(event).encode(self.encoding, errors="replace") + b"\r\n"
        self.pty.write(data) if self.pty else self.port.write(data)

    def close(self) -> None:
        self._stop.set()
        self._reader.join(2)
        self.pty.close() if self.pty else self.port.close()


def _service_range(text: str) -> tuple[float, float]:
    try:
        lo, _, hi = text.partition("-")
        lo_f, hi_f = float(lo), float(hi or lo)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN-MAX seconds, e.g. 5-20, got {text!r}") from None
    if not 0 <= lo_f <= hi_f <= 3600:
        raise argparse.ArgumentTypeError("need 0 <= MIN <= MAX <= 3600")
    return lo_f, hi_f


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hall-queue-sim", description=__doc__.split("\n\n")[0])
    to = p.add_mutually_exclusive_group(required=True)
    to.add_argument("--mqtt", metavar="URL", help="broker, mqtt://host[:port]")
    to.add_argument("--serial", action="store_true", help="create a pty pair and print the kiosk-side path")
    to.add_argument("--serial-port", metavar="PATH", help="write to an existing serial port instead")
    p.add_argument("--link", type=Path, default=Path("/tmp/hall-queue-sim.tty"),
                   help="with --serial: the symlink the kiosk opens (default %(default)s)")
    p.add_argument("--open-timeout", type=float, default=300.0,
                   help="with --serial: seconds to wait for the kiosk to open the port (default %(default)s)")
    p.add_argument("--encoding", choices=("gbk", "utf-8"), default="gbk", help="serial encoding")
    p.add_argument("--hall", default="taojiang")
    p.add_argument("--window", default="03")
    p.add_argument("--rate", type=float, default=6.0, help="tickets called per minute at most (default 6)")
    p.add_argument("--count", type=int, default=10, help="tickets to play, 1..10000 (default 10)")
    p.add_argument("--service-time", type=_service_range, default=(5.0, 20.0), metavar="MIN-MAX",
                   help="seconds from call to finish (default 5-20)")
    p.add_argument("--cancel-ratio", type=float, default=0.1, help="share of no-shows (default 0.1)")
    p.add_argument("--wait-done", action="store_true", help="wait for the back-channel before the next call")
    p.add_argument("--kiosk-config", type=Path, metavar="TOML",
                   help="the kiosk's tablet file: wait for 'done' as long as its walk-away timeout allows")
    p.add_argument("--done-timeout", type=float, default=None,
                   help="seconds to wait for it (default: from --kiosk-config, else %g)" % DEFAULT_DONE_TIMEOUT_S)
    p.add_argument("--matters", type=Path, default=DEFAULT_MATTERS)
    p.add_argument("--first", type=int, default=1, help="first ticket number")
    p.add_argument("--seed", type=int, default=None)
    return p


def main(argv: Sequence[str] | None = None, stop: threading.Event | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not 1 <= args.count <= 10000 or not 0 < args.rate <= 6000 or not 0 <= args.cancel_ratio <= 1:
        print("hall-queue-sim: need 1 <= --count <= 10000, 0 < --rate <= 6000, 0 <= --cancel-ratio <= 1",
              file=sys.stderr)
        return 2
    stop = stop or threading.Event()
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
    matters = load_matters(args.matters)
    flow = None
    if args.kiosk_config is not None and args.done_timeout is None:
        from hallcore.config import ConfigError
        from kiosk.config import load_kiosk_config
        try:
            flow = load_kiosk_config(args.kiosk_config).flow
        except ConfigError as e:
            print(f"hall-queue-sim: --kiosk-config: {e}", file=sys.stderr)
            return 2
        print(f"waiting for done up to {flow.thanks_s:g} s + matters x 3 screens x {flow.timeout_s:g} s "
              f"+ {DONE_MARGIN_S:g} s (the walk-away bound of {args.kiosk_config})", flush=True)

    def done_bound(t: PlannedTicket) -> float:
        if flow is not None:
            return done_wait_s(len(t.call.matters), timeout_s=flow.timeout_s, thanks_s=flow.thanks_s)
        return DEFAULT_DONE_TIMEOUT_S if args.done_timeout is None else args.done_timeout

    link = (MqttLink(args.mqtt, args.hall, args.window) if args.mqtt else
            SerialLink(link_path=args.link, port=args.serial_port, encoding=args.encoding,
                       open_timeout=args.open_timeout, stop=stop))
    missing_done = 0
    try:
        plan = plan_tickets(random.Random(args.seed), matters, window=args.window, count=args.count,
                            service=args.service_time, cancel_ratio=args.cancel_ratio, first=args.first)
        for t in plan:
            if stop.is_set():
                break
            started = time.monotonic()
            # stamped at send time: a ticket number reused by a later run is a new ticket to the kiosk
            link.send(replace(t.call, ts=hall_now()))
            print(f"call   {t.call.ticket} window {args.window}: {', '.join(m.name for m in t.call.matters)}",
                  flush=True)
            if stop.wait(t.service_seconds):
                break
            link.send(replace(t.end(), ts=hall_now()))
            print(f"{t.outcome:<6} {t.call.ticket}", flush=True)
            bound = done_bound(t)
            if args.wait_done and t.outcome == "finish" and not _wait_done(link.done, t.call.ticket, bound, stop):
                if stop.is_set():
                    break
                missing_done += 1
                why = "the kiosk's walk-away bound" if flow is not None else "--done-timeout"
                print(f"gave up waiting for done {t.call.ticket} after {bound:g} s ({why}); "
                      f"calling the next ticket", flush=True)
            if stop.wait(max(0.0, 60.0 / args.rate - (time.monotonic() - started))):
                break
    finally:
        link.close()
    return 1 if missing_done else 0


def _wait_done(done: "queue.Queue[Done]", ticket: str, timeout: float, stop: threading.Event) -> bool:
    deadline = time.monotonic() + timeout
    while not stop.is_set() and (left := deadline - time.monotonic()) > 0:
        try:
            d = done.get(timeout=min(left, 0.2))
        except queue.Empty:
            continue
        print(f"done   {d.ticket}: rated {d.rated}, unrated {d.unrated}", flush=True)
        if d.ticket == ticket:
            return True
    return False


if __name__ == "__main__":
    sys.exit(main())
