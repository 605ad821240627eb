"""The center as one object: config, database, calendar, clock, alert senders.

The clock is injected so deadline and escalation tests control time.
"""
from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any, Callable

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError

from hallcore.hallclock import to_db, utc_now
from hallcore.record import is_region_code, parse_time
from hallcore.timebounds import TimeBounds

from . import alerting, queries
from .auth import ROLES, hash_password, new_device_token, password_problem, token_hash
from .bundle import BundleSource
from .config import CenterConfig
from .db import device_log, devices, make_engine, migrate, users
from .deadlines import Deadlines
from .enrollment import Enrollment
from .sqlutil import execute_built, read_connection

log = logging.getLogger("center.devices")

MAX_DEVICE_ID = 64
# A heartbeat clock further ahead than this is no skew worth a number: it is unknown (and flagged).
MAX_CLOCK_AHEAD = timedelta(days=366)


def clock_skew(clock: Any, now: datetime, bounds: TimeBounds) -> int | None:
    """Tablet minus center in seconds, or None when the tablet's clock is
    unknown: not an ISO 8601 time with offset, before the earliest record
    time, or a year or more ahead (a number that large means nothing)."""
    t = parse_time(clock)
    if t is None or bounds.problem(t, now, extra=MAX_CLOCK_AHEAD - bounds.ahead) is not None:
        return None
    return round((t - now).total_seconds())


# A device token found is trusted this long without a lookup by a caller that
# checks it again in its own transaction (device_for_token_checked_later).
TOKEN_TRUST_S = 5.0
MAX_TOKENS_SEEN = 10_000


def enrollment_from(row) -> Enrollment:
    return Enrollment(row.device_id, row.hall_id, row.window_id, row.region_code)


def locked_device(conn, device_id: str, *columns):
    """The device's row (`columns` of it, default all), locked until the
    transaction ends (PostgreSQL; SQLite writers are serialized anyway):
    enrollment changes and one device's batches take their turn."""
    rows = execute_built(conn, _locking(columns or (devices,)), {"locked_device_id": device_id})
    return rows[0] if rows else None


@lru_cache(maxsize=None)
def _locking(columns: tuple):
    """locked_device's statement, built once (ingest runs it for every batch)."""
    return (select(*columns).where(devices.c.device_id == bindparam("locked_device_id"))
            .with_for_update())


def _check_ids(**named: str) -> None:
    for name, v in named.items():
        if not v or not v.strip() or len(v) > MAX_DEVICE_ID:
            raise CenterError(f"{name.replace('_', ' ')} must be 1..{MAX_DEVICE_ID} characters, got {v!r}")


class CenterError(ValueError):
    """A command the center refuses, with the reason for the operator."""


class Center:
    def __init__(self, cfg: CenterConfig, *, clock: Callable[[], datetime] = utc_now,
                 senders: dict[str, Callable] | None = None):
        self.cfg = cfg
        self.engine = make_engine(cfg.database)
        self.clock = clock
        self.deadlines = Deadlines(cfg.closing, cfg.holiday_file)
        self.bundles = BundleSource(cfg, self.deadlines.holidays)   # the tablets get the same calendar
        self.senders = dict(alerting.SENDERS if senders is None else senders)
        self._tokens_seen: dict[str, tuple[str, float]] = {}     # token hash -> (device, when found)

    def migrate(self) -> None:
        migrate(self.engine)

    # ------------------------------------------------------------ devices

    def add_device(self, device_id: str, hall_id: str, window_id: str,
                   region_code: str | None = None) -> str:
        """Enroll a tablet; returns its token (shown once, only the hash is kept).

        The region defaults to the center's `[center] region_code`."""
        _check_ids(device_id=device_id, hall=hall_id, window=window_id)
        region = self._region(region_code or self.cfg.region_code)
        token = new_device_token()
        now = self.clock()
        enrolled = Enrollment(device_id, hall_id, window_id, region)
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(devices).values(
                    device_id=device_id, hall_id=hall_id, window_id=window_id, region_code=region,
                    token_hash=token_hash(token), created_at=to_db(now),
                    record_count=0, max_seq=0, seq_count=0, conflict_count=0, rejected_count=0))
                self._log_enrollment(conn, "enroll", None, enrolled, now)
        except IntegrityError:
            raise CenterError(f"device {device_id!r} is already enrolled; "
                              f"use rotate-token to give it a new token") from None
        log.info("device %s enrolled: hall %s, window %s, region %s", device_id, hall_id, window_id,
                 region or "(its first record's)")
        return token

    def move_device(self, device_id: str, hall_id: str, window_id: str,
                    region_code: str | None = None) -> tuple[Enrollment, Enrollment, dict | None]:
        """Enroll a tablet for another hall or window (and region); logged.
        Returns (before, after, the device's last heartbeat)."""
        _check_ids(hall=hall_id, window=window_id)
        now = self.clock()
        with self.engine.begin() as conn:
            row = locked_device(conn, device_id)
            if row is None:
                raise CenterError(f"no device {device_id!r}; enroll it with add-device")
            before = enrollment_from(row)
            region = self._region(region_code) if region_code else before.region_code
            after = Enrollment(device_id, hall_id, window_id, region)
            conn.execute(update(devices).where(devices.c.device_id == device_id).values(
                hall_id=hall_id, window_id=window_id, region_code=region))
            self._log_enrollment(conn, "move", before, after, now)
        log.warning("device %s moved: hall %s -> %s, window %s -> %s, region %s -> %s", device_id,
                    before.hall_id, hall_id, before.window_id, window_id, before.region_code, region)
        return before, after, row.heartbeat

    def enrollment_log(self, device_id: str) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(
                select(device_log).where(device_log.c.device_id == device_id).order_by(device_log.c.id))]

    @staticmethod
    def _region(code: str | None) -> str | None:
        if code is not None and not is_region_code(code):
            raise CenterError(f"region must be a 6-digit 行政区划代码 such as 430922, got {code!r}")
        return code

    @staticmethod
    def _log_enrollment(conn, action: str, before: Enrollment | None, after: Enrollment,
                        now: datetime) -> None:
        conn.execute(insert(device_log).values(
            device_id=after.device_id, at=to_db(now), action=action,
            previous=before.as_json() if before else None, enrollment=after.as_json()))

    def rotate_token(self, device_id: str) -> str:
        token = new_device_token()
        with self.engine.begin() as conn:
            n = conn.execute(update(devices).where(devices.c.device_id == device_id)
                             .values(token_hash=token_hash(token))).rowcount
        if n != 1:
            raise CenterError(f"no device {device_id!r}; enroll it with add-device")
        return token

    def device_for_token(self, token: str) -> str | None:
        with read_connection(self.engine) as conn:
            return conn.execute(select(devices.c.device_id)
                                .where(devices.c.token_hash == token_hash(token))).scalar()

    def token_seen(self, token: str) -> tuple[str, str] | None:
        """device_for_token_checked_later without a lookup (no I/O): None when
        the token was not found in the last TOKEN_TRUST_S seconds."""
        digest = token_hash(token)
        seen = self._tokens_seen.get(digest)
        if seen is not None and time.monotonic() - seen[1] < TOKEN_TRUST_S:
            return seen[0], digest
        return None

    def device_for_token_checked_later(self, token: str) -> tuple[str, str] | None:
        """(device, token hash) of a token, from the last TOKEN_TRUST_S seconds'
        lookups when it was found then (an unknown token is always looked up).
        Only for a caller that checks the hash again in the transaction that
        acts on it (ingest does, under the device's lock): a token rotated
        meanwhile is refused there."""
        found = self.token_seen(token)
        if found is not None:
            return found
        digest, now = token_hash(token), time.monotonic()
        device = self.device_for_token(token)
        if device is None:
            self._tokens_seen.pop(digest, None)
            return None
        if len(self._tokens_seen) >= MAX_TOKENS_SEEN:
            self._tokens_seen.clear()
        self._tokens_seen[digest] = (device, now)
        return device, digest

    def heartbeat(self, device_id: str, beat: dict[str, Any]) -> dict[str, Any]:
        """Store the tablet's latest state; flag a clock off by more than the
        limit, an unknown one, or one the tablet itself reports wrong."""
        now = self.clock()
        skew = clock_skew(beat.get("clock"), now, self.cfg.record_bounds)
        head = beat.get("chain_head")
        # the chain head is kept until a heartbeat reports another (an agent without one keeps it)
        chain = {} if not head else dict(chain_seq=head["seq"], chain_hash=head["hash"],
                                         chain_pending=beat.get("pending"), chain_reported_at=to_db(now))
        with self.engine.begin() as conn:
            conn.execute(update(devices).where(devices.c.device_id == device_id).values(
                heartbeat_at=to_db(now), heartbeat=beat, clock_skew_s=skew, **chain))
        flagged = skew is None or abs(skew) > self.cfg.clock_skew_warn_s or bool(beat.get("clock_problem"))
        return {"ok": True, "server_time": now.isoformat(timespec="seconds"),
                "clock_skew_s": skew, "clock_skew_flagged": flagged}

    # ------------------------------------------------------------ users

    def add_user(self, name: str, role: str, password: str, window_id: str | None = None,
                 staff_id: str | None = None) -> None:
        """A dashboard user; `staff_id` is the user's own (queue system) staff id
        if the user also serves at a window: no anomaly flag about it is shown to them."""
        if role not in ROLES:
            raise CenterError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
        if role == "handler" and not window_id:
            raise CenterError("a handler needs --window: handlers see their own window's cases")
        if not name or len(name) > 64:
            raise CenterError("user name must be 1..64 characters")
        if problem := password_problem(password):
            raise CenterError(problem)
        if staff_id is not None and not 1 <= len(staff_id.strip()) <= 200:
            raise CenterError("--staff-id must be 1..200 characters")
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(users).values(
                    name=name, role=role, window_id=window_id if role == "handler" else None,
                    staff_id=staff_id.strip() if staff_id else None,
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
