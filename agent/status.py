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

from hallcore.hallclock import stamp
from hallcore.record import parse_time

STALE_AFTER_S = 120   # a status older than this means the agent is not running


def heartbeat_body(status: Mapping[str, Any]) -> dict[str, Any]:
    """The heartbeat the center's device view shows (DESIGN.md section 4)."""
    body = {k: status.get(k) for k in
            ("pending", "oldest_pending", "quarantined", "quarantined_ids", "last_success", "version", "clock")}
    body["last_error"] = (status.get("last_error") or None) and str(status["last_error"])[:2000]
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


def shown(value: Any) -> str:
    """A stored time as hall time for reading (the file keeps its offset); else as it is, or '-'."""
    t = parse_time(value)
    return stamp(t) if t is not None else str(value or "-")


def shown_error(value: Any) -> str:
    """last_error is "<time> <problem>": its time in hall time too."""
    when, _, problem = str(value or "").partition(" ")
    return f"{shown(when)} {problem}" if parse_time(when) is not None else str(value or "-")


def render(status: Mapping[str, Any] | None, now: datetime, path: Path) -> str:
    """Readable lines for `hall-agent status`, times in the hall's zone."""
    if status is None:
        return f"no agent status at {path}: the agent has not run yet, or cannot write there"
    lines = []
    if is_stale(status, now):
        lines.append(f"WARNING: status last written {shown(status.get('clock'))}: the agent is not running")
    state = status.get("state", "?")
    lines += [
        f"state          {state}" + (f" (next try in {status['next_try_s']:.0f} s)"
                                     if status.get("next_try_s") else ""),
        f"pending        {status.get('pending')}",
        f"oldest pending {shown(status.get('oldest_pending'))}",
        f"quarantined    {status.get('quarantined')}",
        f"last success   {shown(status.get('last_success'))}",
        f"last error     {shown_error(status.get('last_error'))}",
        f"version        {status.get('version')}  pid {status.get('pid')}  written {shown(status.get('clock'))}",
    ]
    for q in status.get("quarantine", [])[:20]:
        lines.append(f"  quarantined {q.get('id')} ticket {q.get('ticket')} window {q.get('window_id')}: "
                     f"{q.get('reason')} ({shown(q.get('at'))})")
    for a in status.get("alerts", [])[:20]:
        lines.append(f"  ALERT {a.get('level')}: bad review {a.get('id')} window {a.get('window_id')} "
                     f"ticket {a.get('ticket')} due {shown(a.get('due_at'))} still {a.get('where')}")
    return "\n".join(lines)
