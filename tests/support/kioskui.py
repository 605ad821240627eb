"""The real kiosk app, rendered offscreen, driven by touches (tests, soak, bench).

Kivy's window is one per process: `ensure_window()` creates it once
(offscreen SDL2 + Mesa software GL); each `UiHarness` builds a KioskApp on a
real KioskFlow, Outbox and Journal, puts its root on that window, and takes
it off again in close(). Time is a variable the harness advances, so
timeouts and the 300 ms carry-over guard are crossed without sleeping.
"""
from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

from kiosk.ui.boot import configure_kivy

_KIVY_HOME = tempfile.mkdtemp(prefix="kivy-home-")
atexit.register(shutil.rmtree, _KIVY_HOME, True)
configure_kivy(fullscreen=False, size=(1280, 800), offscreen=True, home=_KIVY_HOME,
               quiet=not os.environ.get("KIOSK_UI_LOG"), max_fps=0)

from kivy.base import EventLoop  # noqa: E402
from kivy.graphics.opengl import glFinish  # noqa: E402
from kivy.tests.common import UnitTestTouch  # noqa: E402

from hallcore.hallclock import DEFAULT_TZ  # noqa: E402
from kiosk.admin import hash_pin  # noqa: E402
from kiosk.config import DEFAULT_FONT, bold_of, load_kiosk_config  # noqa: E402
from kiosk.events import Matter, TicketEvent  # noqa: E402
from kiosk.ui.app import assemble_kiosk, register_font  # noqa: E402
from tests.support.tablet_toml import DROP, write_tablet  # noqa: E402

SCREENS_DIR = Path(__file__).resolve().parents[2] / "test-output" / "screens"
ADMIN_PIN = "246810"
_PIN_HASH = hash_pin(ADMIN_PIN, iterations=10_000)
START = datetime(2026, 11, 27, 10, 0, 0, tzinfo=DEFAULT_TZ)


def ensure_window(size: tuple[int, int] = (1280, 800)):
    from kivy.core.window import Window
    EventLoop.ensure_window()
    register_font(DEFAULT_FONT, bold_of(DEFAULT_FONT))
    if tuple(Window.size) != tuple(size):
        Window.size = size
    return Window


class RecordingLink:
    """The queue link's side of the kiosk in UI tests: events are posted by
    the harness, the back-channel "done" is recorded."""

    def __init__(self):
        self.done: list[tuple[str, int, int]] = []

    def send_done(self, ticket: str, rated: int, unrated: int) -> None:
        self.done.append((ticket, rated, unrated))

    def start(self, on_event) -> None:
        pass

    def stop(self) -> None:
        pass


class UiHarness:
    """The real kiosk, wired by kiosk.ui.app.assemble_kiosk exactly as
    hall-kiosk wires it, on a tablet file written into `folder`."""

    def __init__(self, folder: Path, *, scale: int = 3, size: tuple[int, int] = (1280, 800),
                 window_id: str = "03", reasons: tuple[str, ...] | None = None,
                 pin_hash: str | None = _PIN_HASH, sounds=None, start=START, test_mode: bool = False,
                 changes: dict | None = None):
        """`changes`: more dotted keys of the tablet file (tests.support.tablet_toml.write_tablet)."""
        self.window = ensure_window(size)
        self.t = start
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        written = {"device.window_id": window_id, "storage.folder": ".", "kiosk.scale": scale,
                   "kiosk.test_mode": test_mode, "admin.pin_hash": pin_hash if pin_hash else DROP}
        if reasons:
            written["kiosk.reasons"] = list(reasons)
        written.update(changes or {})
        self.config = load_kiosk_config(write_tablet(folder, written))
        self.link = RecordingLink()
        self.done = self.link.done
        self.app, _ = assemble_kiosk(self.config, self.link, sounds=sounds, now=lambda: self.t, tick_s=3600)
        self.root = self.app.build()
        self.window.add_widget(self.root)
        self.pump()

    @property
    def flow(self):
        return self.app.flow          # a bundle switching test mode gives the app a new flow ...

    @property
    def outbox(self):
        return self.app.outbox        # ... on another outbox

    # ---- driving
    def pump(self, frames: int = 2) -> None:
        for _ in range(frames):
            EventLoop.idle()
            # SDL's offscreen driver never really swaps, so Mesa keeps every
            # frame's buffers queued (RSS grows ~0.3 MiB a frame); finishing
            # the frame is what a display's buffer swap does.
            glFinish()

    def advance(self, seconds: float, frames: int = 1) -> None:
        """Move the hall clock on and tick the flow, as the app's interval would."""
        self.t += timedelta(seconds=seconds)
        self.app._tick()
        self.pump(frames)

    def tap_at(self, x: float, y: float) -> None:
        touch = UnitTestTouch(x, y)
        touch.touch_down()
        touch.touch_up()

    def tap(self, widget, *, wait: float = 1.0, frames: int = 1) -> None:
        """A citizen's tap on `widget`, `wait` seconds after the previous one
        (past the flow's carry-over guard), through the window's touch dispatch."""
        if wait:
            self.advance(wait, frames=0)
        x, y = widget.to_window(*widget.center)
        self.tap_at(x, y)
        self.pump(frames)

    def event(self, kind: str, ticket: str, matters=(("M01", "居民身份证申领"),), staff="李红",
              frames: int = 2) -> None:
        ev = TicketEvent(kind=kind, ticket=ticket, window=self.flow.settings.window_id, staff_id="1024",
                         staff_name=staff, matters=tuple(Matter(c, n) for c, n in matters))
        self.app.post_event(ev)     # the source's path: scheduled onto the Kivy thread
        self.pump(max(frames, 1))   # one frame runs the scheduled hand-over

    # ---- looking
    @property
    def screen(self) -> str:
        return self.root.ids.sm.current

    def screen_widget(self, name: str | None = None):
        return self.root.ids[name or self.screen]

    def rating_button(self, level: str):
        for b in self.screen_widget("rating").ids.buttons.children:
            if b.level == level:
                return b
        raise AssertionError(f"no rating button {level!r}")

    def reason_button(self, reason: str):
        for b in self.screen_widget("reasons").ids.grid.children:
            if b.reason == reason:
                return b
        raise AssertionError(f"no reason button {reason!r}")

    def key_button(self, screen: str, key: str):
        for b in self.screen_widget(screen).ids.keypad.children:
            if getattr(b, "key", None) == key:
                return b
        raise AssertionError(f"no key {key!r} on {screen}")

    def records(self) -> list[dict]:
        return sorted((e["record"] if "record" in e else e for e in self.outbox.pending()),
                      key=lambda r: r["seq"])

    def screenshot(self, name: str, folder: Path = SCREENS_DIR) -> Path:
        """PNG of the whole kiosk at the window's size. Rendered through an FBO
        (export_to_png): SDL's offscreen surface keeps its first size, so
        Window.screenshot would crop the other layouts."""
        folder.mkdir(parents=True, exist_ok=True)
        self.pump(6)     # text_size/texture_size settle over a few frames
        target = folder / f"{name}.png"
        self.root.export_to_png(str(target))
        return target

    def close(self) -> None:
        if self.root.parent is not None:
            self.window.remove_widget(self.root)
        self.app.dispatch("on_stop")   # also drops kv's cached `app`
        self.outbox.close()
        self.pump(1)
        # That frame may lay out this app's widgets once more (the admin screen's text, say) and
        # so ask kv's `app` again, which caches this app for the next harness's kv handlers
        # (`on_release: app.confirm_reasons()` would reach a closed kiosk): forget it for good.
        from kivy.app import App
        from kivy.lang.parser import global_idmap
        App._running_app = None
        object.__setattr__(global_idmap["app"], "_obj", None)
