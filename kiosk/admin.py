"""The admin PIN, stored hashed in the config ([admin] pin_hash).

Format: "pbkdf2_sha256$<iterations>$<salt hex>$<hash hex>" (PBKDF2-HMAC-SHA256
from the standard library), so the file never holds the PIN and a copied
config does not give the PIN away cheaply. Rate-limiting wrong PINs is the
admin screen's job.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import re

SCHEME = "pbkdf2_sha256"
ITERATIONS = 200_000           # ~0.1-0.3 s on a tablet: fine for an admin login, slow for guessing
MIN_ITERATIONS = 10_000
_PIN = re.compile(r"[0-9]{4,12}")
_HASH = re.compile(SCHEME + r"\$([0-9]{1,9})\$([0-9a-f]{16,128})\$([0-9a-f]{64})")


def check_pin(pin: str) -> str:
    """A PIN is 4-12 digits (typed on the on-screen keypad); ValueError otherwise."""
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise ValueError("the admin PIN must be 4 to 12 digits")
    return pin


def _derive(pin: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha256", pin.encode("ascii"), salt, iterations)


def hash_pin(pin: str, *, iterations: int = ITERATIONS, salt: bytes | None = None) -> str:
    check_pin(pin)
    salt = salt if salt is not None else os.urandom(16)
    return f"{SCHEME}${iterations}${salt.hex()}${_derive(pin, salt, iterations).hex()}"


def parse_pin_hash(pin_hash: str) -> tuple[int, bytes, bytes]:
    """(iterations, salt, digest) of a stored hash; ValueError saying what is wrong."""
    m = _HASH.fullmatch(pin_hash) if isinstance(pin_hash, str) else None
    if not m:
        raise ValueError(f'is not of the form "{SCHEME}$<iterations>$<salt hex>$<64 hex digits>"')
    iterations = int(m[1])
    if iterations < MIN_ITERATIONS:
        raise ValueError(f"uses {iterations} iterations, fewer than {MIN_ITERATIONS}")
    return iterations, bytes.fromhex(m[2]), bytes.fromhex(m[3])


def verify_pin(pin: str, pin_hash: str) -> bool:
    """True if `pin` matches; False for a wrong or malformed PIN (never raises for user input)."""
    try:
        check_pin(pin)
        iterations, salt, digest = parse_pin_hash(pin_hash)
    except ValueError:
        return False
    return hmac.compare_digest(_derive(pin, salt, iterations), digest)
