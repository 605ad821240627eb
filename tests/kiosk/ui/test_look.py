"""Rating buttons never rely on colour alone; type stays large."""
import pytest

from hallcore.record import SCALES
from kiosk.ui.look import metrics, scale_looks


@pytest.mark.parametrize("size", [3, 5])
def test_every_level_has_its_own_colour_and_face(size):
    looks = scale_looks(size)
    assert [name for name, _ in looks] == list(SCALES[size].names)
    assert len({lk.colour for _, lk in looks}) == size
    assert len({lk.mood for _, lk in looks}) == size
    moods = [lk.mood for _, lk in looks]
    assert moods == sorted(moods, reverse=True)        # best first, happiest first
    assert moods[0] > 0 > moods[-1]


def _luminance(c):
    def ch(v):
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (ch(x) for x in c[:3])
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


@pytest.mark.parametrize("size", [3, 5])
def test_button_text_contrast_is_at_least_wcag_large_text(size):
    for name, lk in scale_looks(size):
        a, b = sorted((_luminance(lk.colour), _luminance(lk.text_colour)))
        assert (b + 0.05) / (a + 0.05) >= 3.0, name


@pytest.mark.parametrize("w,h", [(1280, 800), (1920, 1080), (800, 1280)])
def test_unit_follows_the_short_side(w, h):
    m = metrics(w, h)
    assert m.portrait == (h > w)
    assert m.unit == min(w, h) / 100
