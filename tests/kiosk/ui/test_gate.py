"""The hidden admin gesture and the PIN rate limit (pure, no screen)."""
from kiosk.admin import hash_pin, verify_pin
from kiosk.ui.gate import CornerTaps, PinGate

W, H = 1280, 800


def test_five_corner_taps_within_three_seconds_open():
    g = CornerTaps()
    assert [g.tap(W - 3, H - 3, W, H, t) for t in (0, 0.5, 1, 1.5, 2)] == [False] * 4 + [True]


def test_slow_taps_do_not_open_a_window_of_five_within_three_seconds_does():
    g = CornerTaps()
    assert not any(g.tap(W - 3, H - 3, W, H, t) for t in (0, 1, 2, 3))   # 3 s for four taps
    assert not g.tap(W - 3, H - 3, W, H, 3.5)       # five taps over 3.5 s
    assert g.tap(W - 3, H - 3, W, H, 3.9)           # the last five (1 .. 3.9) within 3 s


def test_a_tap_elsewhere_resets_the_count():
    g = CornerTaps()
    for t in (0, 0.1, 0.2, 0.3):
        g.tap(W - 3, H - 3, W, H, t)
    assert not g.tap(W / 2, H / 2, W, H, 0.4)
    assert not g.tap(W - 3, H - 3, W, H, 0.5)


def test_only_the_top_right_corner_counts():
    g = CornerTaps()
    for x, y in ((3, H - 3), (W - 3, 3), (3, 3)):
        assert not g.in_corner(x, y, W, H)
    assert g.in_corner(W - 3, H - 3, W, H)
    assert not g.in_corner(W - 200, H - 3, W, H)


PIN_HASH = hash_pin("4321", iterations=10_000)


def gate():
    return PinGate(lambda pin: verify_pin(pin, PIN_HASH), free_attempts=3, lock_s=30, max_lock_s=120)


def test_right_pin_opens():
    assert gate().attempt("4321", 0) == PinGate.OK


def test_three_wrong_pins_are_free_then_each_locks_longer():
    g = gate()
    assert [g.attempt("0000", t) for t in (0, 1)] == [PinGate.WRONG] * 2
    assert g.locked_for(2) == 0
    assert g.attempt("0000", 2) == PinGate.WRONG
    assert g.locked_for(2) == 30                        # third wrong: 30 s
    assert g.attempt("4321", 10) == PinGate.LOCKED      # not even checked while locked
    assert g.attempt("0000", 33) == PinGate.WRONG
    assert g.locked_for(33) == 60                       # doubled
    assert g.attempt("0000", 94) == PinGate.WRONG
    assert g.locked_for(94) == 120                      # capped
    assert g.attempt("4321", 300) == PinGate.OK
    assert g.failures == 0 and g.locked_for(300) == 0


def test_malformed_pin_is_just_wrong():
    g = gate()
    assert g.attempt("", 0) == PinGate.WRONG
    assert g.attempt("12ab", 1) == PinGate.WRONG
