"""Staff sessions are kept by the server (table `sessions`), so they can be
ended: by logout, by a password change and by disabling the user.

The cookie holds a random key of 256 bits; the table holds only its SHA-256
(center.auth.token_hash), so a copy of the database opens no session. A
session ends after `idle_s` without a request and, in any case, `max_s`
after login. The rules here are pure; center/queries.py does the SQL.
"""
from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

COOKIE = "hall_session"


def new_key() -> str:
    return secrets.token_urlsafe(32)


def new_csrf() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class SessionPolicy:
    idle_s: int = 3600          # a session unused this long has ended
    max_s: int = 12 * 3600      # and every session ends this long after login
    touch_s: int = 60           # last use is written at most once a minute (fewer writes)

    def ended(self, created_at: datetime, seen_at: datetime, now: datetime) -> bool:
        return (now - seen_at > timedelta(seconds=self.idle_s)
                or now - created_at > timedelta(seconds=self.max_s))

    def needs_touch(self, seen_at: datetime, now: datetime) -> bool:
        return now - seen_at >= timedelta(seconds=self.touch_s)

    def oldest_alive(self, now: datetime) -> tuple[datetime, datetime]:
        """(created_at, seen_at) bounds: a session older than either has ended."""
        return now - timedelta(seconds=self.max_s), now - timedelta(seconds=self.idle_s)
