"""Secrets: device tokens (random, stored as a SHA-256 hash) and staff
passwords (scrypt with a per-user salt). Pure functions."""
from __future__ import annotations

import hashlib
import hmac
import secrets

ROLES = ("handler", "supervisor")
_SCRYPT = dict(n=2 ** 14, r=8, p=1)


def new_device_token() -> str:
    return secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    """A device token has 256 random bits, so a fast hash is enough to keep
    it out of the database; a KDF would only slow every POST."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, dklen=32, **_SCRYPT)
    return f"scrypt${_SCRYPT['n']}${_SCRYPT['r']}${_SCRYPT['p']}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str) -> bool:
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(password.encode("utf-8"), salt=bytes.fromhex(salt),
                             n=int(n), r=int(r), p=int(p), dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(got.hex(), digest)
