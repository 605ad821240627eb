"""Run by the installed venv's python (tests/packaging/test_wheel.py): build
the kiosk the way hall-kiosk does, render its first screen offscreen, and
report on the idle title's glyphs as JSON in argv[3].

    python -I installed_render.py TABLET_TOML KIVY_HOME OUT_JSON
"""
import json
import os
import sys
from pathlib import Path

os.environ["KIVY_LOG_MODE"] = "PYTHON"     # Kivy leaves sys.stderr alone: a traceback reaches the test
from kiosk.ui.boot import configure_kivy  # noqa: E402

configure_kivy(fullscreen=False, size=(1280, 800), offscreen=True, home=sys.argv[2], max_fps=0)

from fontTools.ttLib import TTFont  # noqa: E402
from kivy.base import EventLoop  # noqa: E402
from kivy.core.text import DEFAULT_FONT, LabelBase  # noqa: E402
from kivy.core.text import Label as CoreLabel  # noqa: E402

from kiosk.config import load_kiosk_config  # noqa: E402
from kiosk.preflight import missing_glyphs  # noqa: E402
from kiosk.ui import strings  # noqa: E402
from kiosk.ui.app import build_kiosk  # noqa: E402

config = load_kiosk_config(Path(sys.argv[1]))
app, source, outbox = build_kiosk(config, offscreen=True, size=(1280, 800))
EventLoop.ensure_window()
from kivy.core.window import Window  # noqa: E402

root = app.build()
Window.add_widget(root)
for _ in range(10):           # text_size/texture_size settle over a few frames
    EventLoop.idle()

screen = root.ids.sm.current                    # the first screen: idle, until a ticket is called
title = next(w for w in root.ids[screen].walk() if getattr(w, "text", None) == strings.IDLE_TITLE)
font = LabelBase._fonts[title.font_name][0]     # the file Kivy renders the label with
alpha = title.texture.pixels[3::4]
glyphs = {}
for ch in dict.fromkeys(title.text):            # a missing glyph draws the same box for every character
    label = CoreLabel(text=ch, font_size=48)
    label.refresh()
    glyphs[ch] = label.texture.pixels
report = {
    "font": font,
    "default_font": LabelBase._fonts[DEFAULT_FONT][0],
    "screen": screen,
    "text": title.text,
    "missing": missing_glyphs(TTFont(font, lazy=True).getBestCmap(), [title.text]),
    "ink": sum(1 for a in alpha if a > 127) / max(1, len(alpha)),
    "texture": list(title.texture.size),
    "chars": len(glyphs),
    "distinct_bitmaps": len(set(glyphs.values())),
}
Path(sys.argv[3]).write_text(json.dumps(report, ensure_ascii=False), encoding="utf-8")
outbox.close()
