"""The admin PIN hash (kiosk/admin.py)."""
import pytest

from kiosk.admin import ITERATIONS, hash_pin, parse_pin_hash, verify_pin


def test_hash_has_the_documented_format_and_a_fresh_salt():
    h = hash_pin("123456")
    scheme, iterations, salt, digest = h.split("$")
    assert (scheme, int(iterations), len(salt), len(digest)) == ("pbkdf2_sha256", ITERATIONS, 32, 64)
    assert hash_pin("123456") != h                 # a new salt each time


def test_verify_accepts_the_pin_and_refuses_others():
    h = hash_pin("2468", iterations=10_000)
    assert verify_pin("2468", h)
    assert not verify_pin("2469", h) and not verify_pin("24680", h) and not verify_pin("", h)


def test_malformed_hash_never_verifies_and_parse_says_why():
    assert not verify_pin("2468", "2468")
    with pytest.raises(ValueError, match="is not of the form"):
        parse_pin_hash("md5$abc")
    with pytest.raises(ValueError, match="fewer than"):
        parse_pin_hash("pbkdf2_sha256$10$" + "00" * 16 + "$" + "00" * 32)


@pytest.mark.parametrize("pin", ["123", "12345678901234", "12a4", " 1234", 1234])
def test_a_pin_is_4_to_12_digits(pin):
    with pytest.raises(ValueError, match="4 to 12 digits"):
        hash_pin(pin)
