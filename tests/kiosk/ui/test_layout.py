"""Both scales laid out at 1280x800 and 1920x1080 landscape and 800x1280
portrait: every button inside the window, none overlapping, every label's
text fitting its button. PNGs under test-output/screens/layouts/."""
from __future__ import annotations

import pytest

from kiosk.ui.look import MIN_TEXT_UNITS
from tests.support.kioskui import SCREENS_DIR, UiHarness

SIZES = [(1280, 800), (1920, 1080), (800, 1280)]


def _box(w):
    x, y = w.to_window(w.x, w.y)
    return x, y, x + w.width, y + w.height


def _inside(w, size):
    x0, y0, x1, y1 = _box(w)
    return x0 >= 0 and y0 >= 0 and x1 <= size[0] + 0.5 and y1 <= size[1] + 0.5


def _overlap(a, b):
    ax0, ay0, ax1, ay1 = _box(a)
    bx0, by0, bx1, by1 = _box(b)
    return ax0 < bx1 - 0.5 and bx0 < ax1 - 0.5 and ay0 < by1 - 0.5 and by0 < ay1 - 0.5


def _text_fits(label):
    label.texture_update()
    return label.texture_size[0] <= label.width + 1 and label.texture_size[1] <= label.height + 1


def _check_text_sizes(screen, size):
    """Every text on the screen is at least MIN_TEXT_UNITS of the short side."""
    from kivy.uix.label import Label
    from kivy.uix.textinput import TextInput
    floor = MIN_TEXT_UNITS * min(size) / 100 - 0.01
    small = [(getattr(w, "text", "")[:12], w.font_size) for w in screen.walk()
             if isinstance(w, (Label, TextInput)) and getattr(w, "text", "") and w.font_size < floor]
    assert small == []


def _check_group(widgets, size):
    widgets = list(widgets)
    assert all(_inside(w, size) for w in widgets), [(_box(w)) for w in widgets]
    for i, a in enumerate(widgets):
        for b in widgets[i + 1:]:
            assert not _overlap(a, b), (_box(a), _box(b))


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("scale", [3, 5])
def test_screens_fit_the_window(tmp_path, size, scale):
    h = UiHarness(tmp_path, scale=scale, size=size)
    out = SCREENS_DIR / "layouts"
    tag = f"{size[0]}x{size[1]}_{scale}"
    try:
        h.event("finish", "A030", matters=(("M01", "建设工程规划许可证核发（含临时建设）"),))
        h.pump(6)
        h.screenshot(f"{tag}_rating", out)
        buttons = list(h.screen_widget("rating").ids.buttons.children)
        assert len(buttons) == scale
        _check_group(buttons, size)
        short = min(size)
        for b in buttons:
            face, label = [c for c in b.children if type(c).__name__ == "Face"][0], \
                [c for c in b.children if type(c).__name__ == "Label"][0]
            assert _text_fits(label), (b.text, label.texture_size, label.size)
            assert label.texture_size[1] >= short * 0.035      # legible at arm's length
            assert min(face.size) >= short * 0.12               # the face is a real cue, not a dot
            fx0, fy0, fx1, fy1 = _box(face)
            bx0, by0, bx1, by1 = _box(b)
            assert bx0 <= fx0 and fx1 <= bx1 and by0 <= fy0 and fy1 <= by1
        _check_text_sizes(h.screen_widget("rating"), size)
        matter = h.screen_widget("rating").ids.matter
        assert _inside(matter, size) and matter.texture_size[0] <= matter.width + 1

        bad = [b for b in buttons if b.level == "dissatisfied"][0]
        h.tap(bad)
        h.tap(h.reason_button("其他"))
        h.pump(6)
        h.screenshot(f"{tag}_reasons", out)
        _check_text_sizes(h.screen_widget("reasons"), size)
        reasons = list(h.screen_widget("reasons").ids.grid.children)
        _check_group(reasons + [h.screen_widget("reasons").ids.confirm,
                                h.screen_widget("reasons").ids.other], size)
        assert all(_text_fits(r) for r in reasons)

        h.screen_widget("reasons").ids.other.text = "排队太久"
        h.tap(h.screen_widget("reasons").ids.confirm)
        h.pump(6)
        h.screenshot(f"{tag}_phone", out)
        _check_text_sizes(h.screen_widget("phone"), size)
        ph = h.screen_widget("phone")
        keys = [k for k in ph.ids.keypad.children if getattr(k, "key", "")]
        _check_group(keys + [ph.ids.skip, ph.ids.confirm, ph.ids.display], size)
        assert all(_text_fits(k) for k in keys + [ph.ids.skip, ph.ids.confirm])
    finally:
        h.close()
