"""The agent's state as hall IT and the kiosk admin screen see it.

The running agent writes it atomically to the status file (JSON); the kiosk
admin screen reads that file, `hall-agent status` prints it, and the
heartbeat sends the same numbers to the center. Rendering is pure.
"""
from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any, Mapping

from hallcore.record import parse_time
from hallcore.timebounds import clock_problem

STALE_AFTER_S = 120   # a status older than this means the agent is not running


def heartbeat_body(status: Mapping[str, Any]) -> dict[str, Any]:
    """The heartbeat the center's device view shows (DESIGN.md section 4):
    with `clock_problem` when the tablet's own clock is plainly wrong (the
    kiosk then asks nothing; hallcore.timebounds)."""
    body = {k: status.get(k) for k in
            ("pending", "oldest_pending", "quarantined", "quarantined_ids", "last_success", "version", "clock")}
    body["last_error"] = (status.get("last_error") or None) and str(status["last_error"])[:2000]
    clock = parse_time(status.get("clock"))
    body["clock_problem"] = clock_problem(clock) if clock is not None else None
    return body


def read_status(path: Path) -> dict[str, Any] | None:
    """The status file's content, or None if there is none (or it is unreadable)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_stale(status: Mapping[str, Any], now: datetime) -> bool:
    t = parse_time(status.get("clock"))
    return t is None or (now - t).total_seconds() > STALE_AFTER_S


def render(status: Mapping[str, Any] | None, now: datetime, path: Path) -> str:
    """Readable lines for `hall-agent status`."""
    if status is None:
        return f"no agent status at {path}: the agent has not run yet, or cannot write there"
    lines = []
    if is_stale(status, now):
        lines.append(f"WARNING: status last written {status.get('clock')}: the agent is not running")
    state = status.get("state", "?")
    lines += [
        f"state          {state}" + (f" (next try in {status['next_try_s']:.0f} s)"
                                     if status.get("next_try_s") else ""),
        f"pending        {status.get('pending')}",
        f"oldest pending {status.get('oldest_pending') or '-'}",
        f"quarantined    {status.get('quarantined')}",
        f"last success   {status.get('last_success') or '-'}",
        f"last error     {status.get('last_error') or '-'}",
        f"version        {status.get('version')}  pid {status.get('pid')}  written {status.get('clock')}",
    ]
    for q in status.get("quarantine", [])[:20]:
        lines.append(f"  quarantined {q.get('id')} ticket {q.get('ticket')} window {q.get('window_id')}: "
                     f"{q.get('reason')} ({q.get('at')})")
    for a in status.get("alerts", [])[:20]:
        lines.append(f"  ALERT {a.get('level')}: bad review {a.get('id')} window {a.get('window_id')} "
                     f"ticket {a.get('ticket')} due {a.get('due_at')} still {a.get('where')}")
    return "\n".join(lines)
