"""Kivy settings that must be made before the window exists (no Kivy import
at module level: the environment has to be set first)."""
from __future__ import annotations

import os


def _no_cutbuffer_alarm(record) -> bool:
    """Drop Kivy's CRITICAL "no Cutbuffer provider" (xclip/xsel missing): it is
    only X's middle-click paste, which a kiosk never offers, and a CRITICAL
    line at every start would send hall IT looking for a fault."""
    return not str(record.msg).startswith("Cutbuffer: Unable to find any valuable")


def stamp_log_lines() -> None:
    """Kivy's console lines (the kiosk's log: journald's, the demo's file)
    start with the time in the hall's zone, whatever the tablet's OS zone."""
    import logging

    from kivy.logger import ConsoleHandler, KivyFormatter

    from hallcore.hallclock import HallTimeFormatter

    class HallKivyFormatter(HallTimeFormatter, KivyFormatter):
        pass

    for h in logging.root.handlers:
        if isinstance(h, ConsoleHandler):
            h.setFormatter(HallKivyFormatter("%(asctime)s [%(levelname)-7s] %(message)s", use_color=False))


def configure_kivy(*, fullscreen: bool, size: tuple[int, int] | None = None,
                   offscreen: bool = False, home: str | None = None, quiet: bool = False,
                   max_fps: int = 60) -> None:
    """Full screen, borderless, no cursor and no exit on Escape for the kiosk;
    `offscreen` renders without a display (tests, bench, a headless demo)
    through SDL2's offscreen driver with Mesa's software GL. `max_fps` 0 is
    for tests that drive frames themselves (no frame-rate sleep; a free-running
    loop would spin a core)."""
    os.environ.setdefault("KIVY_NO_ARGS", "1")
    os.environ.setdefault("KIVY_NO_FILELOG", "1")
    # SIGTERM and SIGINT are the kiosk's own (kiosk.ui.app.stop_on_signals),
    # not SDL's quit request (SDL reads this when the window is created).
    os.environ.setdefault("SDL_NO_SIGNAL_HANDLERS", "1")
    if home:
        os.environ["KIVY_HOME"] = home
    if quiet:
        os.environ["KIVY_NO_CONSOLELOG"] = "1"
    if offscreen:
        os.environ["SDL_VIDEODRIVER"] = "offscreen"
    from kivy.config import Config
    from kivy.logger import Logger
    Logger.addFilter(_no_cutbuffer_alarm)
    stamp_log_lines()
    Config.set("kivy", "exit_on_escape", "0")
    Config.set("kivy", "pause_on_minimize", "0")
    Config.set("graphics", "resizable", "1")
    Config.set("graphics", "fullscreen", "auto" if fullscreen else "0")
    Config.set("graphics", "borderless", "1" if fullscreen else "0")
    Config.set("graphics", "show_cursor", "0" if fullscreen else "1")
    Config.set("input", "mouse", "mouse,disable_multitouch")
    Config.set("graphics", "maxfps", str(max_fps))
    if size:
        Config.set("graphics", "width", str(size[0]))
        Config.set("graphics", "height", str(size[1]))
