"""The center's bundle on the tablet (DESIGN.md §4.9): fetched after each
heartbeat, checked, applied atomically, reported.

The answer's bytes are stored as they came, as `<storage>/bundle.json`
(hallcore.fsutil.atomic_write_bytes: a kill at any point leaves the old
file or the new one, never a mix), and only after hallcore.bundle has
accepted them with this tablet's own values and pins: the hash, the window,
the holiday text by the override file's parser, the kiosk settings by the
[kiosk] rules. The kiosk reads the file with the same checks when it is
idle. A refused bundle is logged, counted and reported in the heartbeat
(`bundle.error`); the last good one stays. Nothing here touches the outbox,
and a bundle that cannot be fetched changes nothing at all.
"""
from __future__ import annotations

import logging
from datetime import date
from typing import Any

from agent.answer import Reply
from hallcore import bundle as rules
from hallcore.bundle import BundleError
from hallcore.bundlefile import accept, read_stored
from hallcore.fsutil import atomic_write_bytes, is_disk_full
from hallcore.tablet import TabletConfig
from hallcore.workdays import WorkCalendar, years_to_check

log = logging.getLogger("agent.bundle")

MAX_ERROR = 1000     # the heartbeat's bundle.error


def _remove_stale_temp_files(tablet: TabletConfig) -> None:
    """A kill in the middle of a write leaves its temp file (hallcore.fsutil), never a
    torn bundle.json; this agent is the file's one writer (its instance lock)."""
    path = tablet.bundle_path
    for tmp in path.parent.glob(f".{path.name}.*.tmp"):
        try:
            tmp.unlink()
            log.info("removed a bundle write cut short", extra={"path": str(tmp)})
        except OSError as e:
            log.warning("cannot remove a bundle write cut short", extra={"path": str(tmp), "problem": str(e)})


class BundleKeeper:
    def __init__(self, tablet: TabletConfig):
        self.tablet = tablet
        self.error: str | None = None
        self.refused = 0
        self._problem: str | None = None      # the last fetch problem logged (each logged once)
        _remove_stale_temp_files(tablet)
        try:
            self.current = read_stored(tablet)
        except BundleError as e:              # a hand-edited or damaged file: the next fetch replaces it
            self.current = None
            self._refuse(f"stored bundle: {e}", None)

    # ------------------------------------------------------------ what is reported

    def etag(self) -> str | None:
        return self.current.etag if self.current else None

    def beat(self) -> dict[str, Any]:
        """The heartbeat's "bundle"."""
        return {"version": self.current.version if self.current else None, "error": self.error,
                "refused": self.refused}

    def calendar(self) -> WorkCalendar:
        """The calendar the kiosk computes deadlines with (the bundle's unless pinned)."""
        return rules.work_calendar(self.tablet.calendar, self.current, self.tablet.pinned)

    def calendar_state(self, today: date) -> dict[str, str]:
        """The heartbeat's "calendar": {"2026": "official", "2027": "estimated"}."""
        cal = self.calendar()
        return {str(y): cal.year_source(y) for y in years_to_check(today)}

    # ------------------------------------------------------------ the center's answer

    def take(self, reply: Reply) -> bool:
        """Act on the answer to GET /api/v1/bundle; True when what the
        heartbeat reports changed (a new bundle applied, one refused, an
        error cleared)."""
        if reply.status == 304:
            self._fetched()
            if self.error is not None:        # the center is back at the bundle we hold
                self.error = None
                return True
            return False
        if reply.status != 200:
            what = f"HTTP {reply.status}" if reply.status is not None else (reply.error or "connection")
            if reply.error != "stopped" and what != self._problem:
                log.warning("bundle not fetched; the tablet keeps the one it has",
                            extra={"problem": what, "detail": (reply.detail or _text(reply.body))[:300]})
            self._problem = what
            return False
        self._fetched()
        raw = reply.body.encode("utf-8") if isinstance(reply.body, str) else (reply.body or b"")
        try:
            new = accept(self.tablet, raw)
        except BundleError as e:
            return self._refuse(str(e), None)
        if self.current is not None and new.sha256 == self.current.sha256:
            changed, self.error = self.error is not None, None
            return changed
        try:
            atomic_write_bytes(self.tablet.bundle_path, raw)
        except OSError as e:
            if is_disk_full(e):
                raise           # like any full disk: hall-agent exits 3, systemd restarts it
            return self._refuse(f"cannot store it: {e}", new.version)
        old = self.current.version if self.current else None
        self.current, self.error = new, None
        log.info("bundle applied", extra={"version": new.version, "previous": old, "staff": len(new.staff),
                                          "holidays": sorted(new.holidays or {}), "kiosk": sorted(new.kiosk),
                                          "pinned": sorted(self.tablet.pinned)})
        return True

    def _fetched(self) -> None:
        if self._problem is not None:
            log.info("bundle fetched again", extra={"after": self._problem})
            self._problem = None

    def _refuse(self, problem: str, version: str | None) -> bool:
        self.refused += 1
        error = problem[:MAX_ERROR]
        if error != self.error:
            log.error("bundle refused; the tablet keeps its last good one",
                      extra={"problem": error, "version": version,
                             "kept": self.current.version if self.current else None})
        changed, self.error = error != self.error, error
        return changed


def _text(body: Any) -> str:
    if isinstance(body, bytes):
        return body[:300].decode("utf-8", "replace")
    return str(body or "")


__all__ = ["BundleKeeper"]
