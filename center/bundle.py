"""The bundle the center sends each tablet (DESIGN.md §4.9): I/O around hallcore.bundle.

One bundle per (hall, window): the holiday file's text as the running center
reads it (center.calendarfile.LiveHolidayFile, the calendar of the center's
own deadlines), the kiosk settings of `[bundle.kiosk]`, `[bundle.hall.<id>]`
and `[bundle.window."<id>"]` (the narrower wins), and the directory's staff
of the window with their photos from `[bundle] staff_photos`. Its content is
deterministic (no times, sorted), so every center instance on the same files
and database answers the same ETag. It is built again only when an input
changed; a request for an unchanged bundle reads the staff rows and stats
the photo files, nothing more.
"""
from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hallcore.bundle import MAX_HOLIDAY_CHARS, MAX_PHOTO_BYTES, MAX_STAFF, photo_field, photo_problem, seal
from hallcore.fsutil import read_regular_file
from hallcore.fsutil import file_stamp

from . import directory_db
from .calendarfile import LiveHolidayFile
from .config import CenterConfig

log = logging.getLogger("center.bundle")

PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png")
# a staff id used as a file name: no path separators, no leading dot
_FILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,199}")
MAX_CACHED = 2000      # windows whose bundle is kept built


@dataclass(frozen=True)
class Built:
    body: bytes           # the envelope (hallcore.bundle.seal), sent as it is
    sha256: str

    @property
    def version(self) -> str:
        return self.sha256[:16]

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'


class BundleSource:
    def __init__(self, cfg: CenterConfig, holidays: LiveHolidayFile):
        self.cfg = cfg.bundle
        self.holidays = holidays
        self._lock = threading.Lock()
        self._built: dict[tuple[str, str], tuple[Any, Built]] = {}
        self._photos: dict[Path, tuple[Any, bytes | None]] = {}

    def latest(self, conn, hall_id: str, window_id: str) -> Built:
        """The bundle for the tablets of `window_id` in `hall_id` now."""
        text, _ = self.holidays.current()
        rows = directory_db.staff_of_window(conn, window_id, MAX_STAFF + 1)
        photos = [self._photo(sid) for sid, _ in rows[:MAX_STAFF]]
        settings = self.cfg.kiosk_for(hall_id, window_id)
        inputs = (text, tuple(rows), tuple(p[0] for p in photos), repr(sorted(settings.items())))
        key = (hall_id, window_id)
        with self._lock:
            cached = self._built.get(key)
            if cached is not None and cached[0] == inputs:
                return cached[1]
        # built again: an input changed (logged here, not at every request)
        if text is not None and len(text) > MAX_HOLIDAY_CHARS:
            log.error("holiday file over %d characters: not sent to the tablets", MAX_HOLIDAY_CHARS)
            text = None
        if len(rows) > MAX_STAFF:
            log.warning("window %s has more than %d staff: its tablets show the first %d by id",
                        window_id, MAX_STAFF, MAX_STAFF)
            rows = rows[:MAX_STAFF]
        staff = [{"id": sid, "name": name, "photo": photo_field(data) if data else None}
                 for (sid, name), (_, data) in zip(rows, photos)]
        body, sha = seal({"hall_id": hall_id, "window_id": window_id, "holidays": text,
                          "kiosk": settings, "staff": staff})
        built = Built(body, sha)
        with self._lock:
            if len(self._built) >= MAX_CACHED:
                self._built.clear()
            self._built[key] = (inputs, built)
        return built

    def _photo(self, staff_id: str) -> tuple[Any, bytes | None]:
        """(what identifies the photo file's state, its bytes or None)."""
        folder = self.cfg.staff_photos
        if folder is None or not _FILE_ID.fullmatch(staff_id):
            return (None, None)
        for suffix in PHOTO_SUFFIXES:
            path = folder / f"{staff_id}{suffix}"
            stamp = file_stamp(path)
            if stamp is None:
                continue
            with self._lock:
                cached = self._photos.get(path)
            if cached is not None and cached[0] == stamp:
                return (path, stamp), cached[1]
            data = self._read_photo(path)
            with self._lock:
                if len(self._photos) >= MAX_CACHED:
                    self._photos.clear()
                self._photos[path] = (stamp, data)
            return (path, stamp), data
        return (None, None)

    @staticmethod
    def _read_photo(path: Path) -> bytes | None:
        try:
            data = read_regular_file(path, MAX_PHOTO_BYTES)
        except (OSError, ValueError) as e:
            log.warning("staff photo %s not sent: %s (at most %d bytes)", path, e, MAX_PHOTO_BYTES)
            return None
        problem = photo_problem(data)
        if problem:
            log.warning("staff photo %s not sent: it %s", path, problem)
            return None
        return data


__all__ = ["BundleSource", "Built"]
