"""The kiosk's Kivy app: renders `flow.view`, forwards taps, ticks the flow.

It decides nothing about the evaluation (kiosk.flow does). Its own rules are
the kiosk's shell: the window cannot be closed or escaped, ticket events from
the source's thread are handed to the Kivy thread, and a hidden corner
gesture plus the admin PIN (kiosk.ui.gate) opens the admin screen.
"""
from __future__ import annotations

import io
import logging
import signal
import sys
import time as _time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from kivy.app import App
from kivy.clock import Clock
from kivy.core.text import DEFAULT_FONT, LabelBase
from kivy.lang import Builder
from kivy.properties import BooleanProperty, NumericProperty
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.screenmanager import Screen
from kivy.uix.widget import Widget

from hallcore.hallclock import hall_now, set_hall_zone
from hallcore.images import PNG
from hallcore.record import OTHER_REASON
from kiosk.config import bold_of
from kiosk.ui import KV_FILE
from kiosk.ui import strings as S
from kiosk.ui.gate import CornerTaps, PinGate
from kiosk.ui.look import look, metrics
from kiosk.ui.widgets import Deck, KeyButton, RatingButton, ReasonButton, StaffCardView  # noqa: F401 (Deck: kv)

log = logging.getLogger(__name__)

TICK_S = 0.2          # how often the flow is ticked (reminder, timeout, thanks)
ADMIN_SCREENS = ("admin_pin", "admin")
ADMIN_IDLE_S = 120.0  # an admin screen left open goes back to the citizens' screen after this
PHONE_KEYS = ("1", "2", "3", "4", "5", "6", "7", "8", "9", "del", "0", "")
IDLE_STAFF_SHOWN = 4  # staff cards on the idle screen


_kv_loaded = False


def load_kv() -> None:
    """Load the rules once per process (Builder accumulates rules)."""
    global _kv_loaded
    if not _kv_loaded:
        Builder.load_file(str(KV_FILE))
        _kv_loaded = True


def register_font(regular: Path, bold: Path | None = None) -> None:
    """Make the CJK font Kivy's default for every label and text input."""
    bold = bold if bold and bold.exists() else None
    LabelBase.register(DEFAULT_FONT, str(regular), fn_bold=str(bold) if bold else None)


# ----------------------------------------------------------------- screens

def matter_line(index: int, count: int, matter: str, width: float, font_size: float) -> str:
    """"第 1/2 项：<matter>"; a name too long for one line starts on its own
    line, so the line never breaks inside "第 1/2 项"."""
    text = S.RATING_MATTER.format(index=index, count=count, matter=matter)
    if len(text) * font_size * 0.9 > width > 0:
        head = S.RATING_MATTER.format(index=index, count=count, matter="")
        text = head + "\n" + matter
    return text


def shown_staff(staff: tuple, staff_name: str, limit: int = IDLE_STAFF_SHOWN) -> tuple:
    """The staff cards on the idle screen: the one the queue system last named
    first, then the window's others in the center's order, at most `limit`."""
    first = [c for c in staff if staff_name and c.name == staff_name]
    return tuple(first + [c for c in staff if c not in first])[:limit]


def photo_texture(card):
    """The card's photo as a texture, or None (no photo, or one SDL cannot decode;
    its size was checked before: hallcore.bundle.photo_problem)."""
    if card.photo is None:
        return None
    from kivy.core.image import Image as CoreImage
    try:
        return CoreImage(io.BytesIO(card.photo), ext="png" if card.photo_type == PNG else "jpg",
                         nocache=True).texture
    except Exception as e:      # a photo must never take the idle screen down
        log.warning("Kiosk: photo of staff %s cannot be shown: %s", card.id, e)
        return None


class IdleScreen(Screen):
    _cards: tuple = ()

    def show(self, v) -> None:
        app = App.get_running_app()
        staff = getattr(app, "staff", ()) if app is not None else ()
        self.ids.window.text = S.IDLE_WINDOW.format(window=v.window_id)
        if v.staff_name:
            self.ids.staff.text = S.IDLE_STAFF.format(staff=v.staff_name)
        else:      # the cards say who serves here; without them a dash says nobody was named
            self.ids.staff.text = "" if staff else S.IDLE_STAFF_NONE
        cards = shown_staff(staff, v.staff_name)
        if cards != self._cards:
            self._cards = cards
            box = self.ids.staff_cards
            box.clear_widgets()
            for c in cards:
                box.add_widget(StaffCardView(staff_name=c.name, staff_id=c.id, initial=c.name[:1],
                                             photo=photo_texture(c)))
        self.ids.staff_title.text = S.IDLE_STAFF_TITLE if cards else ""


class ServingScreen(Screen):
    def show(self, v) -> None:
        self.ids.ticket.text = S.SERVING_TICKET.format(ticket=v.ticket or "")
        self.ids.staff.text = S.IDLE_STAFF.format(staff=v.staff_name) if v.staff_name else ""


class RatingScreen(Screen):
    _levels: tuple = ()
    _matter: tuple = (0, 0, "")

    def on_kv_post(self, base_widget) -> None:
        self.ids.matter.bind(width=lambda *a: self._matter_text())

    def _matter_text(self) -> None:
        m = self.ids.matter
        m.text = matter_line(*self._matter, m.width, m.font_size)

    def show(self, v) -> None:
        app = App.get_running_app()
        self._matter = (v.matter_index, v.matter_count, v.matter_name or "")
        self._matter_text()
        if v.levels != self._levels:     # rebuilt only when the scale changes
            self._levels = v.levels
            box = self.ids.buttons
            box.clear_widgets()
            size = len(v.levels)
            for lv in v.levels:
                lk = look(lv.name, size)
                btn = RatingButton(level=lv.name, text=lv.label, bg=lk.colour, fg=lk.text_colour,
                                   mood=lk.mood)
                btn.bind(on_release=lambda b: app.tap_rating(b.level))
                box.add_widget(btn)
        self._fit_labels(app)

    def _fit_labels(self, app) -> None:
        n = max(1, len(self._levels))
        # Landscape: the longest label (非常不满意, 5 characters) must fit its column.
        per = (app.root_width() * 0.92 / n - app.u * 6) / 5.4 if not app.portrait else app.u * 8
        for btn in self.ids.buttons.children:
            btn.font_size = min(app.u * 7.5, per)


class ReasonsScreen(Screen):
    other_open = BooleanProperty(False)
    _reasons: tuple = ()
    _comment = ""

    def show(self, v) -> None:
        app = App.get_running_app()
        if v.reasons != self._reasons:
            self._reasons = v.reasons
            grid = self.ids.grid
            grid.clear_widgets()
            for reason in v.reasons:
                btn = ReasonButton(reason=reason)
                btn.bind(on_release=lambda b: app.toggle_reason(b.reason))
                grid.add_widget(btn)
        for btn in self.ids.grid.children:
            btn.selected = btn.reason in v.selected_reasons
        self.other_open = OTHER_REASON in v.selected_reasons
        self._comment = v.comment
        if self.ids.other.text != v.comment:
            self.ids.other.text = v.comment
        self.ids.message.text = v.message or ""

    def comment_changed(self, text: str) -> None:
        if text != self._comment:
            self._comment = text
            App.get_running_app().set_comment(text)


class _Keypad:
    """Builds a 3x4 keypad once; `on_key(key)` gets "0".."9", "del" or "ok"."""

    @staticmethod
    def build(grid, keys, on_key: Callable[[str], None]) -> None:
        if grid.children:
            return
        for key in keys:
            if not key:
                grid.add_widget(Widget())
                continue
            label = {"del": S.PHONE_DELETE, "ok": S.PHONE_CONFIRM}.get(key, key)
            btn = KeyButton(key=key, text=label)
            if key in ("del", "ok"):
                btn.font_size = App.get_running_app().u * 5
            btn.bind(on_release=lambda b: on_key(b.key))
            grid.add_widget(btn)


class PhoneScreen(Screen):
    complete = BooleanProperty(False)

    def show(self, v) -> None:
        app = App.get_running_app()
        _Keypad.build(self.ids.keypad, PHONE_KEYS, app.phone_key)
        self.ids.display.text = v.phone_masked or S.PHONE_EMPTY
        self.ids.display.color = (0.10, 0.12, 0.16, 1) if v.phone_masked else (0.55, 0.58, 0.62, 1)
        self.ids.display.font_size = app.u * (8 if v.phone_masked else 4.5)
        self.complete = v.phone_complete
        self.ids.message.text = v.message or ""


class ThanksScreen(Screen):
    def show(self, v) -> None:
        pass


class AdminPinScreen(Screen):
    def show_pin(self, digits: str, message: str) -> None:
        app = App.get_running_app()
        _Keypad.build(self.ids.keypad, PHONE_KEYS[:11] + ("ok",), app.admin_key)
        self.ids.display.text = "●" * len(digits)
        self.ids.message.text = message


class AdminScreen(Screen):
    def show_info(self, lines: list[str]) -> None:
        self.ids.info.text = "\n".join(lines)


class ReminderBanner(FloatLayout):
    active = BooleanProperty(False)


class TestModeBanner(Label):
    """Along the bottom edge on every screen while the kiosk is in test mode."""


class KioskRoot(FloatLayout):
    """Sees every touch first, for the hidden admin gesture."""

    def on_touch_down(self, touch):
        app = App.get_running_app()
        if app is not None and app.corner_tap(touch.x, touch.y):
            return True
        return super().on_touch_down(touch)


# --------------------------------------------------------------------- app

class KioskApp(App):
    u = NumericProperty(8.0)            # 1% of the window's short side, in pixels
    portrait = BooleanProperty(False)
    test_mode = BooleanProperty(False)  # kv shows the test-mode banner

    def __init__(self, flow, *, now: Callable[[], datetime] = hall_now, source: Any = None,
                 outbox: Any = None, pin_hash: str | None = None, device_id: str = "",
                 version: str = "", test_mode: bool = False, sounds: Any = None,
                 tick_s: float = TICK_S, config: Any = None, watch: Any = None,
                 open_store: Callable[[Any], tuple[Any, Any]] | None = None, **kw):
        super().__init__(**kw)
        self.title = "好差评"
        self.flow, self.now, self.source, self.outbox = flow, now, source, outbox
        self.pin_hash, self.device_id, self.version, self.test_mode = pin_hash, device_id, version, test_mode
        # the center's bundle (kiosk.bundlewatch): the config in use, the one waiting for idle
        # (not `self.config`: that is Kivy's ConfigParser once the app runs)
        self.kiosk_config, self.watch, self.open_store = config, watch, open_store
        self.waiting_config = None
        self.staff = config.staff if config is not None else ()
        self.sounds = sounds
        self.tick_s = tick_s
        self.corner = CornerTaps()
        self.pin_gate = PinGate(self._verify_pin)
        self._pin = ""
        self._pin_message = ""
        self._serial: int | None = None
        self._reminder = False
        self._last_screen = ""
        self._exiting = False
        self._tick_event = None
        self._admin_seen = self.now()  # last admin key or screen, for ADMIN_IDLE_S
        self.rendered = 0              # screens rendered (bench, soak)

    # ---- lifecycle
    def build(self):
        from kivy.core.window import Window
        load_kv()
        root = KioskRoot()
        self._resize(Window, *Window.size)
        Window.bind(on_resize=self._resize, on_request_close=self._veto_close, on_keyboard=self._on_keyboard)
        Window.show_cursor = self.test_mode or not _kivy_fullscreen()
        self._tick_event = Clock.schedule_interval(self._tick, self.tick_s)
        self.root = root
        self.render()
        return root

    def detach(self) -> None:
        """Undo build() (tests: several apps in one process share the window)."""
        from kivy.core.window import Window
        if self._tick_event is not None:
            self._tick_event.cancel()
            self._tick_event = None
        Window.unbind(on_resize=self._resize, on_request_close=self._veto_close, on_keyboard=self._on_keyboard)

    def _resize(self, window, width, height) -> None:
        m = metrics(width, height)
        self.u, self.portrait = m.unit, m.portrait
        self._serial = None
        if self.root is not None:
            Clock.schedule_once(lambda dt: self.render(), 0)

    def root_width(self) -> float:
        from kivy.core.window import Window
        return Window.width

    def _veto_close(self, *args) -> bool:
        return not self._exiting        # True vetoes: staff cannot close the kiosk

    def _on_keyboard(self, window, key, *args) -> bool:
        return key == 27 and not self._exiting   # Escape (and Android back) swallowed

    def load_kv(self, filename=None) -> bool:
        # App.run() would load kiosk.kv a second time (it looks for <name>.kv
        # beside the app's module); build() loads the rules once per process.
        return False

    def on_stop(self) -> None:
        self.detach()

    # ---- ticket events (any thread) and the clock
    def post_event(self, event) -> None:
        """TicketSource callback: runs on the source's thread, so hand over to Kivy's."""
        Clock.schedule_once(lambda dt: self._apply_event(event), 0)

    def _apply_event(self, event) -> None:
        self.flow.on_event(event, self.now())
        self.render()

    def _tick(self, dt=None) -> None:
        now = self.now()
        self.flow.tick(now)
        self.check_bundle()
        if (self.root is not None and self.root.ids.sm.current in ADMIN_SCREENS
                and (now - self._admin_seen).total_seconds() >= ADMIN_IDLE_S):
            log.warning("Kiosk: admin screen left open %.0f s, closed", ADMIN_IDLE_S)
            self.close_admin()      # forgotten by staff, it would keep citizens from rating
        self.render()

    # ---- the center's bundle
    def check_bundle(self) -> None:
        """A new bundle file is read at once and applied the first time the
        flow is idle: never in the middle of an evaluation (DESIGN.md §4.9)."""
        if self.watch is None:
            return
        try:
            new = self.watch.poll()
        except Exception:       # the bundle must never stop the kiosk
            log.exception("Kiosk: bundle check failed")
            return
        if new is not None:
            self.waiting_config = new
        if self.waiting_config is not None and self.flow.idle:
            new, self.waiting_config = self.waiting_config, None
            self.apply_config(new)

    def apply_config(self, new) -> None:
        """Only while the flow is idle (check_bundle)."""
        old = self.kiosk_config
        if old is not None and new.test_mode != old.test_mode and self.open_store is not None:
            try:
                outbox, flow = self.open_store(new)     # test mode: its own outbox and journal
            except Exception as e:
                log.error("Kiosk: bundle %s not applied: cannot switch test mode: %s",
                          new.bundle.version if new.bundle else "-", e)
                return
            flow.counters.update(self.flow.counters)
            self.outbox.close()
            self.outbox, self.flow = outbox, flow
            log.warning("Kiosk: TEST MODE %s by the center's bundle: records go to %s",
                        "ON" if new.test_mode else "OFF", new.outbox_folder)
        else:
            self.flow.apply_settings(new.flow)
        self.kiosk_config, self.test_mode, self.staff = new, new.test_mode, new.staff
        self._serial = None
        log.info("Kiosk: bundle %s applied", new.bundle.version if new.bundle else "-")
        self.render()

    # ---- rendering
    def render(self) -> None:
        v = self.flow.view
        if self.root is None or v.serial == self._serial:
            return
        self._serial = v.serial
        sm = self.root.ids.sm
        if sm.current not in ADMIN_SCREENS:
            screen = self.root.ids[v.screen]
            screen.show(v)
            if sm.current != v.screen:
                sm.current = v.screen
        banner = self.root.ids.reminder
        banner.active = v.reminder and sm.current not in ADMIN_SCREENS
        if (self.sounds is not None and v.screen == "rating" and v.matter_index == 1
                and self._last_screen != "rating"):
            self.sounds.play("rate")        # a new ticket's first question
        self._last_screen = v.screen
        if v.reminder and not self._reminder and self.sounds is not None:
            self.sounds.play("reminder")
        if v.screen == "thanks" and self.sounds is not None and sm.current == "thanks":
            if not getattr(self, "_thanked", False):
                self.sounds.play("thanks")
            self._thanked = True
        else:
            self._thanked = False
        self._reminder = v.reminder
        self.rendered += 1

    # ---- taps forwarded to the flow
    def tap_rating(self, name: str) -> None:
        self.flow.tap_rating(name, self.now())
        self.render()

    def toggle_reason(self, reason: str) -> None:
        self.flow.toggle_reason(reason, self.now())
        self.render()

    def set_comment(self, text: str) -> None:
        self.flow.set_comment(text, self.now())
        self.render()

    def confirm_reasons(self) -> None:
        self.flow.confirm_reasons(self.now())
        self.render()

    def phone_key(self, key: str) -> None:
        self.flow.phone_key(key, self.now())
        self.render()

    def confirm_phone(self) -> None:
        self.flow.confirm_phone(self.now())
        self.render()

    def skip_phone(self) -> None:
        self.flow.skip_phone(self.now())
        self.render()

    # ---- admin
    def corner_tap(self, x: float, y: float) -> bool:
        from kivy.core.window import Window
        if self.pin_hash is None or self.root.ids.sm.current in ADMIN_SCREENS:
            return False      # no PIN configured: the admin screen cannot be opened
        if self.corner.tap(x, y, Window.width, Window.height, _time.monotonic()):
            self.open_admin()
            return True
        return False

    def _verify_pin(self, pin: str) -> bool:
        from kiosk.admin import verify_pin
        return self.pin_hash is not None and verify_pin(pin, self.pin_hash)

    def open_admin(self) -> None:
        self._admin_seen = self.now()
        self._pin, self._pin_message = "", ""
        self.root.ids.reminder.active = False
        self.root.ids.admin_pin.show_pin("", "")
        self.root.ids.sm.current = "admin_pin"

    def admin_key(self, key: str) -> None:
        self._admin_seen = self.now()
        if key == "del":
            self._pin = self._pin[:-1]
        elif key == "ok":
            result = self.pin_gate.attempt(self._pin, _time.monotonic())
            self._pin = ""
            if result == PinGate.OK:
                self.show_admin()
                return
            if result == PinGate.LOCKED or self.pin_gate.locked_for(_time.monotonic()) > 0:
                secs = int(self.pin_gate.locked_for(_time.monotonic())) + 1
                self._pin_message = S.ADMIN_PIN_LOCKED.format(seconds=secs)
            else:
                self._pin_message = S.ADMIN_PIN_WRONG
        elif key.isdigit() and len(self._pin) < 12:
            self._pin += key
        self.root.ids.admin_pin.show_pin(self._pin, self._pin_message)

    def admin_lines(self) -> list[str]:
        from kiosk.ui.adminview import admin_lines, bundle_line
        lines = admin_lines(source=self.source, outbox=self.outbox, flow=self.flow, device_id=self.device_id,
                            version=self.version, test_mode=self.test_mode)
        if self.watch is not None:
            lines.append(bundle_line(self.kiosk_config, self.waiting_config, self.watch.problem))
        return lines

    def show_admin(self) -> None:
        self._admin_seen = self.now()
        self.root.ids.admin.show_info(self.admin_lines())
        self.root.ids.sm.current = "admin"

    def close_admin(self) -> None:
        self._pin = ""
        self._serial = None
        self.root.ids.sm.current = self.flow.view.screen
        self.render()

    def exit_kiosk(self) -> None:
        self._exiting = True
        self.stop()


def stop_on_signals(app: KioskApp) -> None:
    """SIGTERM (systemd stopping the kiosk) and SIGINT end the kiosk as an
    administrator's exit does. Left to SDL they become a window-close
    request, which the kiosk vetoes: systemd would wait, then SIGKILL it."""
    def handler(signum, frame) -> None:
        log.warning("Kiosk: stopping on %s", signal.Signals(signum).name)
        Clock.schedule_once(lambda dt: app.exit_kiosk(), 0)

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, handler)


def _kivy_fullscreen() -> bool:
    from kivy.config import Config
    return Config.get("graphics", "fullscreen") not in ("0", "")


# ------------------------------------------------------------------ start-up

def build_kiosk(config, *, offscreen: bool = False, size: tuple[int, int] | None = None):
    """The kiosk's parts on a validated kiosk.config.KioskConfig, not yet
    started: (app, source, outbox)."""
    set_hall_zone(config.tablet.timezone)   # the kiosk's screens, records and log lines
    from kiosk.ui.boot import configure_kivy
    configure_kivy(fullscreen=config.fullscreen and not offscreen, size=size, offscreen=offscreen)
    from kiosk.ui.sounds import Sounds

    source = config.open_source()
    app, outbox = assemble_kiosk(config, source,
                                 sounds=Sounds(config.volume, enabled=config.audio and not offscreen))
    if offscreen:
        finish_frames()
    return app, source, outbox


def assemble_kiosk(config, source, *, sounds: Any, now: Callable[[], datetime] = hall_now,
                   tick_s: float = TICK_S):
    """Wire the kiosk on a validated config and a (not yet started) ticket
    source: (app, outbox). Opens the outbox and journal and resumes an
    interrupted evaluation (kiosk.flow decides resume or 'interrupted').
    The one wiring of the app: hall-kiosk uses it, and so does the UI test
    harness (with its own clock and a recording source)."""
    from outbox.store import Outbox
    from kiosk.bundlewatch import BundleWatch
    from kiosk.flow import KioskFlow
    from kiosk.journal import Journal

    t = config.tablet
    watch = BundleWatch(config)
    config = watch.initial()     # the center's stored bundle over the file (kiosk.config.with_bundle)

    def open_store(cfg):
        """The outbox and the flow on it, resumed (again when the bundle switches test mode)."""
        outbox = Outbox(cfg.outbox_folder, t.device_id)
        try:
            flow = KioskFlow(cfg.flow, outbox, Journal(cfg.journal_path), source.send_done, now())
            flow.resume(now())
        except BaseException:
            outbox.close()
            raise
        if cfg.test_mode:
            log.warning("Kiosk: TEST MODE: never sent: records go to %s, which the agent does not read",
                        cfg.outbox_folder)
        return outbox, flow

    outbox, flow = open_store(config)
    register_font(config.font, bold_of(config.font))
    app = KioskApp(flow, now=now, source=source, outbox=outbox, pin_hash=config.pin_hash,
                   device_id=t.device_id, version=_version(), sounds=sounds,
                   test_mode=config.test_mode, tick_s=tick_s, config=config, watch=watch,
                   open_store=open_store)
    return app, outbox


def finish_frames() -> None:
    """Offscreen only: SDL's offscreen driver never really swaps buffers, so
    Mesa would queue every frame's buffers (RSS grows without bound); finish
    each frame as a display's swap does."""
    from kivy.core.window import Window
    from kivy.graphics.opengl import glFinish
    Window.bind(on_flip=lambda *_: glFinish())


def run_app(config, **kw) -> int:
    """hall-kiosk: run the kiosk until an administrator exits (or Ctrl-C).

    The queue source's events arrive on its own thread and are handed to
    the Kivy thread (KioskApp.post_event). Returns the exit status.
    """
    app, source, outbox = build_kiosk(config, **kw)
    stop_on_signals(app)
    source.start(app.post_event)
    t = config.tablet
    print(f"hall-kiosk: window {t.window_id} of {t.hall_id}, device {t.device_id}; records in "
          f"{config.outbox_folder}", file=sys.stderr, flush=True)
    try:
        app.run()
    finally:
        source.stop()
        app.outbox.close()      # the one in use: a bundle switching test mode opens another
    return 0


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version
    try:
        return version("hall-evaluation-terminal")
    except PackageNotFoundError:
        return "dev"
