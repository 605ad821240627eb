"""Structured logs for the agent: one JSON object per line, rotated by size.

JSON lines so hall IT can grep and a log shipper can parse them; rotation
(logging.handlers.RotatingFileHandler) so a tablet's disk never fills up.
Times are the hall's (hallcore.hallclock), with their offset.
"""
from __future__ import annotations

import json
import logging
import logging.handlers
import sys
from pathlib import Path
from typing import Callable

from hallcore.fsutil import disk_full_path
from hallcore.hallclock import log_time

# attributes every LogRecord has; anything else came from `extra=` and is logged as a field
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}


class JsonLines(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": log_time(record.created),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for k, v in vars(record).items():
            if k not in _STANDARD and not k.startswith("_"):
                out[k if k not in out else f"extra_{k}"] = v   # never hide the line's own level or time
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


class LogFile(logging.handlers.RotatingFileHandler):
    """The rotated log file. When its disk is full, logging's default (a
    traceback on stderr for every line) becomes one call of
    `on_disk_full(path)` (the agent stops, exit 3), or one line on stderr."""

    def __init__(self, path: Path, *, on_disk_full: Callable[[str], None] | None = None, **kw):
        super().__init__(path, encoding="utf-8", **kw)
        self.on_disk_full = on_disk_full
        self.full = False

    def handleError(self, record: logging.LogRecord) -> None:
        if disk_full_path(sys.exc_info()[1]) is None:
            super().handleError(record)
            return
        if not self.full:
            self.full = True
            if self.on_disk_full is not None:
                self.on_disk_full(self.baseFilename)
            else:
                print(f"disk full: {self.baseFilename} (log lines are lost)", file=sys.stderr, flush=True)


def setup_logging(log_file: Path | None, *, max_bytes: int = 5 * 1024 * 1024, backups: int = 5,
                  level: str = "INFO", on_disk_full: Callable[[str], None] | None = None) -> logging.Handler:
    """JSON lines to `log_file` (rotated) or, without one, to stderr (journald)."""
    if log_file is not None:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handler: logging.Handler = LogFile(log_file, maxBytes=max_bytes, backupCount=backups,
                                           on_disk_full=on_disk_full)
    else:
        handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    root = logging.getLogger()
    for h in list(root.handlers):
        root.removeHandler(h)
    root.addHandler(handler)
    root.setLevel(level)
    return handler
