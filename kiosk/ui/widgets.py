"""Kivy widgets of the kiosk: faces drawn with canvas instructions, the big
rating button (text + colour + face), reason and keypad buttons."""
from __future__ import annotations

from kivy.clock import Clock
from kivy.graphics import Color, Ellipse, Line, RoundedRectangle
from kivy.properties import BooleanProperty, ListProperty, NumericProperty, ObjectProperty, StringProperty
from kivy.uix.behaviors import ButtonBehavior
from kivy.uix.boxlayout import BoxLayout
from kivy.uix.floatlayout import FloatLayout
from kivy.uix.label import Label
from kivy.uix.widget import Widget


class Face(Widget):
    """A round face whose mouth curves with `mood` (+2 broad smile .. -2 deep
    frown), so each rating is recognisable without its colour."""
    mood = NumericProperty(0)
    ink = ListProperty([0.12, 0.12, 0.12, 1])
    skin = ListProperty([1, 1, 1, 1])

    def __init__(self, **kw):
        super().__init__(**kw)
        # Redraw once per frame with the settled layout, not on every
        # intermediate pos/size a BoxLayout passes through.
        self._redraw = Clock.create_trigger(self._draw, -1)
        self.bind(pos=self._redraw, size=self._redraw, mood=self._redraw, ink=self._redraw,
                  skin=self._redraw)
        self._redraw()

    def _draw(self, *_):
        r = min(self.width, self.height) / 2.0
        cx, cy = self.x + self.width / 2.0, self.y + self.height / 2.0
        self.canvas.clear()
        if r <= 1:
            return
        with self.canvas:
            Color(*self.skin)
            Ellipse(pos=(cx - r, cy - r), size=(2 * r, 2 * r))
            Color(*self.ink)
            Line(circle=(cx, cy, r - 1), width=max(1.5, r * 0.05))
            eye = r * 0.14
            for dx in (-0.36, 0.36):
                Ellipse(pos=(cx + dx * r - eye / 2, cy + 0.22 * r - eye / 2), size=(eye, eye * 1.3))
            if self.mood <= -2:   # slanted brows: the worst choice reads as upset
                for side in (-1, 1):
                    Line(points=[cx + side * 0.14 * r, cy + 0.42 * r, cx + side * 0.54 * r, cy + 0.56 * r],
                         width=max(1.5, r * 0.05))
            k = 0.16 * r * self.mood       # mouth curvature: ends up for a smile
            pts = []
            for i in range(21):
                t = -1 + i / 10.0
                pts += [cx + t * 0.48 * r, cy - 0.36 * r + k * (t * t - 0.5)]
            Line(points=pts, width=max(2.0, r * 0.07), cap="round", joint="round")


class Panel(Widget):
    """Rounded coloured background shared by the big buttons."""


class RatingButton(ButtonBehavior, BoxLayout):
    level = StringProperty("")
    text = StringProperty("")
    bg = ListProperty([0.5, 0.5, 0.5, 1])
    fg = ListProperty([1, 1, 1, 1])
    mood = NumericProperty(0)
    font_size = NumericProperty(40)


class BigButton(ButtonBehavior, Label):
    """A flat button with a rounded coloured background and large text."""
    bg = ListProperty([0.16, 0.38, 0.70, 1])
    fg = ListProperty([1, 1, 1, 1])


class ReasonButton(BigButton):
    reason = StringProperty("")
    selected = BooleanProperty(False)


class KeyButton(BigButton):
    key = StringProperty("")


class StaffCardView(BoxLayout):
    """One of the window's staff on the idle screen: photo (or the name's
    first character when there is none), name and 工号."""
    staff_name = StringProperty("")
    staff_id = StringProperty("")
    initial = StringProperty("")
    photo = ObjectProperty(None, allownone=True)     # a Texture


class Deck(FloatLayout):
    """Shows one of its screens, swapped at once. A ScreenManager, even with
    NoTransition, swaps on the next frame: a tap in between would reach the
    old screen, and the thank-you would come a frame later."""
    current = StringProperty("")

    def __init__(self, **kw):
        self.screens: dict[str, Widget] = {}
        super().__init__(**kw)

    def on_current(self, _, name: str) -> None:
        # kv adds the screens before it names them: collect them on first use.
        for child in self.children:
            if getattr(child, "name", ""):
                self.screens.setdefault(child.name, child)
        screen = self.screens[name]
        for child in list(self.children):
            if child is not screen and child in self.screens.values():
                self.remove_widget(child)
        if screen.parent is None:
            self.add_widget(screen)
