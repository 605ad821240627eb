"""Secrets: device tokens (random, stored as a SHA-256 hash) and staff
passwords (scrypt with a per-user salt). Pure functions."""
from __future__ import annotations

import hashlib
import hmac
import secrets

ROLES = ("handler", "supervisor")
_SCRYPT = dict(n=2 ** 14, r=8, p=1)
MIN_PASSWORD = 8

# Checked against when the user name is unknown, so that an unknown name
# costs the same scrypt work as a wrong password (names cannot be found by
# timing). No password matches it: its digest is not the scrypt of anything known.
UNKNOWN_USER_HASH = f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${'00' * 16}${'00' * 32}"


def new_device_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """A device token (or a session key) has 256 random bits, so a fast hash
    is enough to keep it out of the database; a KDF would only slow every request."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int, dklen: int) -> bytes:
    """The one place the password KDF runs (the tests count its calls)."""
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=dklen)


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = _scrypt(password, bytes.fromhex(salt), int(n), int(r), int(p), len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)


def password_problem(password: str) -> str | None:
    """Why a new password is refused, or None."""
    if len(password) < MIN_PASSWORD:
        return f"password must be at least {MIN_PASSWORD} characters"
    return None
