"""The center as one object: config, database, calendar, clock, alert senders.

The clock is injected so deadline and escalation tests control time.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError

from hallcore.hallclock import to_db, utc_now
from hallcore.record import parse_time

from . import alerting, queries
from .auth import ROLES, hash_password, new_device_token, password_problem, token_hash
from .config import CenterConfig
from .db import devices, make_engine, migrate, users
from .deadlines import Deadlines

MAX_DEVICE_ID = 64


class CenterError(ValueError):
    """A command the center refuses, with the reason for the operator."""


class Center:
    def __init__(self, cfg: CenterConfig, *, clock: Callable[[], datetime] = utc_now,
                 senders: dict[str, Callable] | None = None):
        self.cfg = cfg
        self.engine = make_engine(cfg.database)
        self.clock = clock
        self.deadlines = Deadlines(cfg.closing, cfg.holiday_file)
        self.senders = dict(alerting.SENDERS if senders is None else senders)

    def migrate(self) -> None:
        migrate(self.engine)

    # ------------------------------------------------------------ devices

    def add_device(self, device_id: str, hall_id: str, window_id: str) -> str:
        """Enroll a tablet; returns its token (shown once, only the hash is kept)."""
        for name, v in (("device id", device_id), ("hall", hall_id), ("window", window_id)):
            if not v or not v.strip() or len(v) > MAX_DEVICE_ID:
                raise CenterError(f"{name} must be 1..{MAX_DEVICE_ID} characters, got {v!r}")
        token = new_device_token()
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(devices).values(
                    device_id=device_id, hall_id=hall_id, window_id=window_id,
                    token_hash=token_hash(token), created_at=to_db(self.clock()),
                    record_count=0, max_seq=0, rejected_count=0))
        except IntegrityError:
            raise CenterError(f"device {device_id!r} is already enrolled; "
                              f"use rotate-token to give it a new token") from None
        return token

    def rotate_token(self, device_id: str) -> str:
        token = new_device_token()
        with self.engine.begin() as conn:
            n = conn.execute(update(devices).where(devices.c.device_id == device_id)
                             .values(token_hash=token_hash(token))).rowcount
        if n != 1:
            raise CenterError(f"no device {device_id!r}; enroll it with add-device")
        return token

    def device_for_token(self, token: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(select(devices.c.device_id)
                                .where(devices.c.token_hash == token_hash(token))).scalar()

    def heartbeat(self, device_id: str, beat: dict[str, Any]) -> dict[str, Any]:
        """Store the tablet's latest state; flag a clock off by more than the limit."""
        now = self.clock()
        clock = parse_time(beat.get("clock"))
        skew = None if clock is None else round((clock - now).total_seconds())
        with self.engine.begin() as conn:
            conn.execute(update(devices).where(devices.c.device_id == device_id).values(
                heartbeat_at=to_db(now), heartbeat=beat, clock_skew_s=skew))
        flagged = skew is not None and abs(skew) > self.cfg.clock_skew_warn_s
        return {"ok": True, "server_time": now.isoformat(timespec="seconds"),
                "clock_skew_s": skew, "clock_skew_flagged": flagged}

    # ------------------------------------------------------------ users

    def add_user(self, name: str, role: str, password: str, window_id: str | None = None) -> None:
        if role not in ROLES:
            raise CenterError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if role == "handler" and not window_id:
            raise CenterError("a handler needs --window: handlers see their own window's cases")
        if not name or len(name) > 64:
            raise CenterError("user name must be 1..64 characters")
        if problem := password_problem(password):
            raise CenterError(problem)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(
                    name=name, role=role, window_id=window_id if role == "handler" else None,
                    password_hash=hash_password(password), created_at=to_db(self.clock())))
        except IntegrityError:
            raise CenterError(f"user {name!r} already exists") from None

    def set_password(self, name: str, password: str) -> int:
        """A new password; every session of the user ends. Returns how many."""
        if problem := password_problem(password):
            raise CenterError(problem)
        return self._change_user(name, password_hash=hash_password(password))

    def disable_user(self, name: str) -> int:
        """No more logins for `name`; every session ends. Returns how many."""
        return self._change_user(name, disabled_at=to_db(self.clock()))

    def enable_user(self, name: str) -> None:
        self._change_user(name, disabled_at=None)

    def _change_user(self, name: str, **values: Any) -> int:
        with self.engine.begin() as conn:
            n = conn.execute(update(users).where(users.c.name == name).values(**values)).rowcount
            if n != 1:
                raise CenterError(f"no user {name!r}; add it with add-user")
            return queries.end_sessions_of(conn, name)
