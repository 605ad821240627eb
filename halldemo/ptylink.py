"""A serial link made of a pseudo-terminal pair, for the simulator and tests.

The queue system's side holds the master; the kiosk opens `path`, a symlink
to the slave (like /dev/serial/by-id/... to /dev/ttyUSB0), so unplug() and
plug() can make the port disappear and reappear under the same name.
"""
from __future__ import annotations

import os
import select
import termios
import time
import tty
from pathlib import Path


class PtyLink:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.master: int | None = None
        self._slave: int | None = None
        self.plug()

    def plug(self) -> None:
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)          # no echo, no line editing before the kiosk opens it
        # Sentinel: serial programs (pyserial among them) clear IGNBRK when they
        # configure the port, so its absence means the kiosk has opened it.
        attrs = termios.tcgetattr(self._slave)
        attrs[0] |= termios.IGNBRK
        termios.tcsetattr(self._slave, termios.TCSANOW, attrs)
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(self._slave))
        os.replace(tmp, self.path)

    def unplug(self) -> None:
        self.path.unlink(missing_ok=True)
        for fd in (self.master, self._slave):
            if fd is not None:
                os.close(fd)
        self.master = self._slave = None

    def wait_opened(self, timeout: float) -> bool:
        """Wait until the kiosk opened and configured the port (pyserial also
        discards input that arrived before it opened, so writers wait for this)."""
        deadline = time.monotonic() + timeout
        while termios.tcgetattr(self._slave)[0] & termios.IGNBRK:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        return True

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self.master, view):]

    def read(self, timeout: float) -> bytes:
        """What the kiosk wrote, or b"" if nothing within `timeout` seconds."""
        ready, _, _ = select.select([self.master], [], [], timeout)
        return os.read(self.master, 4096) if ready else b""

    def close(self) -> None:
        self.unplug()
