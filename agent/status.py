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

from agent.alerts import alert_line
from hallcore.hallclock import readable as shown
from hallcore.record import parse_time
from hallcore.timebounds import clock_problem

STALE_AFTER_S = 120   # a status older than this means the agent is not running
CALENDAR_WORDS = {"override": "verified (holiday file)", "official": "verified (official data)",
                  "estimated": "NOT verified (estimated: import the State Council's notice on the center)"}


def heartbeat_body(status: Mapping[str, Any]) -> dict[str, Any]:
    """The heartbeat the center's device view shows (DESIGN.md section 4):
    with `clock_problem` when the tablet's own clock is plainly wrong (the
    kiosk then asks nothing; hallcore.timebounds), and `chain_head`, which
    with `pending` lets the center's audit tell "still on the tablet" from
    "lost" (hallcore/chain.py)."""
    body = {k: status.get(k) for k in
            ("pending", "oldest_pending", "quarantined", "quarantined_ids", "last_success", "version", "clock")}
    for k in ("bundle", "calendar", "pinned"):      # agent/bundle.py: what the center sent, what applies
        if status.get(k) is not None:
            body[k] = status[k]
    body["last_error"] = (status.get("last_error") or None) and str(status["last_error"])[:2000]
    body["chain_head"] = status.get("chain_head")     # seq and hash of the last record put (tamper evidence)
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


def shown_error(value: Any) -> str:
    """last_error is "<time> <problem>": its time in hall time too."""
    when, _, problem = str(value or "").partition(" ")
    return f"{shown(when)} {problem}" if parse_time(when) is not None else str(value or "-")


def problems(status: Mapping[str, Any], now: datetime, *, running: bool | None = None) -> list[str]:
    """What in the status needs hall IT; `hall-agent status` exits 1 if anything does.
    `running`: whether a hall-agent holds the instance lock (None: unknown,
    judged by the file's age; False: the caller says "not running" itself)."""
    out = []
    if running is None and is_stale(status, now):
        out.append(f"status last written {shown(status.get('clock'))}: the agent is not running")
    elif running and is_stale(status, now):
        out.append(f"status last written {shown(status.get('clock'))}: the agent runs but has not "
                   f"written it for over {STALE_AFTER_S} s (hung?)")
    if running is not False and status.get("state") == "auth_blocked":
        out.append("sending stopped: the center refuses the device token or the token file is unusable")
    if status.get("damaged"):
        out.append(f"{status['damaged']} damaged file(s) set aside in the outbox folder (listed below): "
                   f"a record in one never reaches the center; inspect them, then move them out of the folder")
    return out


def chain_line(head: Any) -> str:
    """The chain head as `hall-agent status` shows it: seq and the hash's start."""
    if not isinstance(head, Mapping) or not isinstance(head.get("hash"), str):
        return "-"
    return f"seq {head.get('seq')} ({head['hash'][:12]}…)" if head.get("seq") else "none yet (nothing put)"


def render(status: Mapping[str, Any] | None, now: datetime, path: Path, *, running: bool | None = None) -> str:
    """Readable lines for `hall-agent status`, times in the hall's zone. `running`: whether a
    hall-agent holds the tablet's instance lock (None: unknown, judged by the file's age)."""
    lines = ["hall-agent is not running (nothing holds its instance lock)" + (
        "; its last status:" if status else "")] if running is False else []
    if status is None:
        return "\n".join(lines + [f"no agent status at {path}: the agent has not run yet, or cannot write there"])
    lines += [f"WARNING: {p}" for p in problems(status, now, running=running)]
    state = status.get("state", "?") if running is not False else f"not running (last: {status.get('state', '?')})"
    lines += [
        f"state          {state}" + (f" (next try in {status['next_try_s']:.0f} s)"
                                     if status.get("next_try_s") and running is not False else ""),
        f"pending        {status.get('pending')}",
        f"oldest pending {shown(status.get('oldest_pending'))}",
        f"quarantined    {status.get('quarantined')}",
        f"damaged        {status.get('damaged', 0)}",
        f"chain head     {chain_line(status.get('chain_head'))}",
        f"last success   {shown(status.get('last_success'))}",
        f"last error     {shown_error(status.get('last_error'))}",
        f"version        {status.get('version')}  pid {status.get('pid')}  written {shown(status.get('clock'))}",
    ]
    b = status.get("bundle")
    if isinstance(b, dict):
        lines.append(f"bundle         {b.get('version') or 'none yet'}"
                     + (f"; the newest was refused: {b['error']}" if b.get("error") else ""))
    cal = status.get("calendar")
    if isinstance(cal, dict) and cal:
        lines.append("calendar       " + ", ".join(f"{y} {CALENDAR_WORDS.get(v, v)}" for y, v in sorted(cal.items())))
    if status.get("pinned"):
        lines.append(f"pinned         {', '.join(status['pinned'])} (kept from this file, not the bundle)")
    for q in status.get("quarantine", [])[:20]:
        lines.append(f"  quarantined {q.get('id')} ticket {q.get('ticket')} window {q.get('window_id')}: "
                     f"{q.get('reason')} ({shown(q.get('at'))})")
    for d in status.get("damaged_files", [])[-20:]:
        lines.append(f"  damaged {d.get('file')} (set aside {shown(d.get('at'))})")
    for a in status.get("alerts", [])[:20]:
        lines.append(f"  {alert_line(a)}")
    return "\n".join(lines)
