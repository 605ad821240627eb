"""The demo's run folders and its verdict on a run.

Every `make demo` gets a folder of its own, var/demo/run-<YYYYmmdd-HHMMSS>,
so a second run never meets the first one's tickets (the kiosk remembers the
tickets evaluated today and ignores them as replays), its outbox, or its
center database. `--keep-state` continues in the newest run folder instead;
`--storage DIR` uses DIR. Only the newest KEEP_RUNS run folders are kept;
var/demo/latest points at the current one.
"""
from __future__ import annotations

import os
import re
import shutil
from datetime import datetime
from pathlib import Path
from typing import Iterable

KEEP_RUNS = 5
RUN_NAME = re.compile(r"run-\d{8}-\d{6}(-\d+)?")
LATEST = "latest"
# what counts as an error line, in any of the run's logs: Python's and the
# agent's JSON levels, tracebacks, and mosquitto's "Error: ..."
ERROR_LINE = re.compile(r"ERROR|CRITICAL|Traceback|\bError\b")


def run_name(now: datetime, taken: Iterable[str]) -> str:
    """A new run folder's name, sortable by time, unique among `taken` (pure)."""
    base = f"run-{now:%Y%m%d-%H%M%S}"
    taken = set(taken)
    name, n = base, 1
    while name in taken:            # bounded by len(taken)
        n += 1
        name = f"{base}-{n}"
    return name


def _run_key(name: str) -> tuple[str, int]:
    """run-20261202-021830-2 -> ("20261202-021830", 2): the time, then the same second's order."""
    return name[4:19], int(name[20:] or 1)


def runs_oldest_first(names: Iterable[str]) -> list[str]:
    return sorted((n for n in names if RUN_NAME.fullmatch(n)), key=_run_key)


def runs_to_prune(names: Iterable[str], keep: int = KEEP_RUNS) -> list[str]:
    """The run folders beyond the newest `keep` (pure; other names are never touched)."""
    runs = runs_oldest_first(names)
    return runs[:max(0, len(runs) - keep)]


def choose_run_folder(demo_root: Path, now: datetime, *, keep_state: bool) -> Path:
    """Create (or, with keep_state, reuse the newest) run folder under demo_root,
    prune the old ones and point demo_root/latest at it."""
    demo_root.mkdir(parents=True, exist_ok=True)
    names = [p.name for p in demo_root.iterdir() if p.is_dir() and not p.is_symlink()]
    runs = runs_oldest_first(names)
    if keep_state and runs:
        folder = demo_root / runs[-1]
    else:
        folder = demo_root / run_name(now, names)
        folder.mkdir()
        names.append(folder.name)
    for old in runs_to_prune(names):
        if old != folder.name:
            shutil.rmtree(demo_root / old, ignore_errors=True)
    link, tmp = demo_root / LATEST, demo_root / (LATEST + ".new")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(folder.name)
    os.replace(tmp, link)
    return folder


def run_logs(folder: Path) -> list[Path]:
    """Every log of a run: center, agent (and its stderr), kiosk, mosquitto, simulator."""
    return sorted(p for pattern in ("*.log", "*.log.[0-9]*", "*.stderr") for p in folder.glob(pattern)
                  if p.is_file())


def error_lines(lines: Iterable[str]) -> int:
    return sum(1 for line in lines if ERROR_LINE.search(line))


def log_errors(folder: Path) -> dict[str, int]:
    """ERROR, CRITICAL and Traceback lines per log file of the run."""
    out = {}
    for p in run_logs(folder):
        with p.open(encoding="utf-8", errors="replace") as f:
            out[p.name] = error_lines(f)
    return out


def first_free_ticket(done: Iterable[str], prefix: str = "A") -> int:
    """The first ticket number after every `prefix` ticket the kiosk already
    evaluated today (pure): with --keep-state, new tickets are not replays."""
    numbers = [int(t[len(prefix):]) for t in done if t.startswith(prefix) and t[len(prefix):].isdigit()]
    return max(numbers, default=0) + 1
