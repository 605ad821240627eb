"""Serial ticket source (DESIGN §4): reads lines from an RS-232/485 adapter,
parses them with the default protocol or a vendor profile, writes the
back-channel line. A reader thread opens the port, reads until it fails
(the USB adapter was unplugged), and reopens it with capped backoff,
logging once per change of state.
"""
from __future__ import annotations

import collections
import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import serial

from hallcore.config import ConfigError, Table
from kiosk.events import TicketEvent
from kiosk.lineprotocol import ENCODINGS, LINE_ENDINGS, LineProfile, LineSplitter
from kiosk.sources.intake import Intake, SourceStatus

log = logging.getLogger("kiosk.sources.serial")

PARITIES = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD,
            "M": serial.PARITY_MARK, "S": serial.PARITY_SPACE}
STOPBITS = {1.0: serial.STOPBITS_ONE, 1.5: serial.STOPBITS_ONE_POINT_FIVE, 2.0: serial.STOPBITS_TWO}
BAUDS = (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PENDING_DONE = 100          # back-channel lines kept while the port is away


@dataclass(frozen=True)
class SerialSettings:
    port: str
    profile: LineProfile
    baud: int = 9600
    parity: str = "N"
    bytesize: int = 8
    stopbits: float = 1.0
    encoding: str = "gbk"
    line_ending: str = "crlf"
    max_line: int = 1024
    reconnect_max: float = 10.0

    @classmethod
    def from_table(cls, t: Table, *, config_dir: Path) -> "SerialSettings":
        profile_name = t.str("profile", "default")
        if profile_name == "default":
            profile = LineProfile.default()
        else:
            path = t.path("profile", base=config_dir, must_exist=True)
            try:
                profile = LineProfile.load(path)
            except ConfigError as e:
                raise ConfigError(f"{t.key('profile')} → {e.key}", e.problem, e.fix, source=e.source) from None
        settings = cls(
            port=t.str("port"),
            profile=profile,
            baud=t.int("baud", 9600, choices=BAUDS),
            parity=t.str("parity", "N", choices=tuple(PARITIES)),
            bytesize=t.int("bytesize", 8, choices=(5, 6, 7, 8)),
            stopbits=t.float("stopbits", 1.0),
            encoding=t.str("encoding", profile.encoding or "gbk", choices=ENCODINGS),
            line_ending=t.str("line_ending", "crlf", choices=tuple(LINE_ENDINGS)),
            max_line=t.int("max_line", 1024, min=64, max=65536),
            reconnect_max=t.float("reconnect_max", 10.0, min=0.5, max=600))
        if settings.stopbits not in STOPBITS:
            raise t.error("stopbits", f"{settings.stopbits} is not allowed", "use 1, 1.5 or 2")
        t.reject_unknown()
        return settings


class SerialSource:
    def __init__(self, settings: SerialSettings, *, window_id: str, intake: Intake | None = None):
        self.settings = settings
        self.window_id = window_id
        self.intake = intake or Intake(f"serial {settings.port}")
        self.splitter = LineSplitter(encoding=settings.encoding, line_ending=settings.line_ending,
                                     max_line=settings.max_line)
        self._port: serial.Serial | None = None
        self._write_lock = threading.Lock()
        self._pending: collections.deque[bytes] = collections.deque(maxlen=PENDING_DONE)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.open_attempts = 0     # for the admin screen and tests: retries are not logged one by one

    def start(self, on_event: Callable[[TicketEvent], None]) -> None:
        self.intake.on_event = on_event
        self._stop.clear()
        self.intake.set_state(False, f"opening {self.settings.port}", trouble=False)
        self._thread = threading.Thread(target=self._run, name="serial-source", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None
        self.intake.set_state(False, "stopped", trouble=False)

    def send_done(self, ticket: str, rated: int, unrated: int) -> None:
        """Writes one line; kept (bounded) and sent on reopen if the port is away. Never raises."""
        try:
            line = self.settings.profile.format_done(ticket, rated, unrated)
            data = line.encode(self.settings.encoding, errors="replace") + LINE_ENDINGS[self.settings.line_ending]
        except Exception as e:
            self.intake.reject("back_channel_failed", f"done for ticket {ticket} not formatted ({e})")
            return
        with self._write_lock:
            self._pending.append(data)
            self._flush()

    @property
    def status(self) -> SourceStatus:
        return self.intake.status()

    def _count_dropped_lines(self, before: dict[str, int]) -> None:
        """Move the splitter's drops into the intake, so they are logged and counted like the rest."""
        for reason, n in self.splitter.counts.items():
            for _ in range(n - before.get(reason, 0)):
                self.intake.reject(reason, "line dropped by the splitter")

    def _flush(self) -> None:
        """Under _write_lock: write the pending back-channel lines if the port is open."""
        while self._pending and self._port is not None:
            try:
                self._port.write(self._pending[0])
                self._pending.popleft()
            except (serial.SerialException, OSError) as e:
                log.warning("serial %s: back-channel write failed (%s); kept for reopen", self.settings.port, e)
                return

    def _open(self) -> serial.Serial:
        s = self.settings
        return serial.Serial(port=s.port, baudrate=s.baud, bytesize=s.bytesize, parity=PARITIES[s.parity],
                             stopbits=STOPBITS[s.stopbits], timeout=0.2, write_timeout=2)

    def _run(self) -> None:
        backoff = 0.2
        while not self._stop.is_set():
            self.open_attempts += 1
            try:
                port = self._open()
            except (serial.SerialException, OSError, ValueError) as e:
                self.intake.set_state(False, f"cannot open {self.settings.port}: {e}")
                self._stop.wait(backoff)
                backoff = min(backoff * 2, self.settings.reconnect_max)
                continue
            backoff = 0.2
            with self._write_lock:
                self._port = port
                self._flush()
            self.intake.set_state(True, f"{self.settings.port} open")
            try:
                self._read(port)
            except (serial.SerialException, OSError) as e:
                self.intake.set_state(False, f"lost {self.settings.port}: {e}")
            finally:
                with self._write_lock:
                    self._port = None
                try:
                    port.close()
                except (serial.SerialException, OSError):
                    pass
                before = dict(self.splitter.counts)
                self.splitter.reset()   # a half line from before the loss is never joined to the next
                self._count_dropped_lines(before)

    def _read(self, port: serial.Serial) -> None:
        profile = self.settings.profile
        while not self._stop.is_set():
            data = port.read(max(1, min(port.in_waiting, 4096)))
            if not data:
                continue
            before = dict(self.splitter.counts)
            lines = self.splitter.feed(data)
            self._count_dropped_lines(before)
            for line in lines:
                self.intake.handle(lambda line=line: profile.parse_line(line, window=self.window_id),
                                   f"line {line[:80]!r}")
