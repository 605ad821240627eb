"""The tablet's local alerts: when an unsent bad review must raise one (issue 6),
the auth alert, and the line `hall-agent status` shows for each kind.

A bad review carries its 2-working-day deadline (`due_at`, set by the kiosk
from the shared calendar). If it is still on the tablet -- pending, or
quarantined because the center rejected it -- `alert_before` ahead of that
deadline, hall staff must know: the center cannot start handling what it has
not received. Each record alerts once per state (warning, then overdue).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Mapping

from hallcore.hallclock import readable
from hallcore.record import is_bad_review, parse_time

WARNING = "due_soon"
OVERDUE = "overdue"
DEADLINE, AUTH = "deadline", "auth"     # alert kinds


@dataclass(frozen=True)
class DeadlineAlert:
    record_id: str
    level: str                  # WARNING or OVERDUE
    due_at: str | None
    window_id: str | None
    ticket: str | None
    where: str                  # "pending" or "quarantined"

    @property
    def key(self) -> str:
        """Identity for "already alerted": one alert per record and level."""
        return f"{self.record_id}:{self.level}"

    def as_dict(self) -> dict[str, Any]:
        return {"kind": DEADLINE, "id": self.record_id, "level": self.level, "due_at": self.due_at,
                "window_id": self.window_id, "ticket": self.ticket, "where": self.where}


def deadline_alerts(records: Iterable[tuple[Mapping[str, Any], str]], now: datetime,
                    alert_before: timedelta, already: set[str] | frozenset[str] = frozenset()
                    ) -> list[DeadlineAlert]:
    """New alerts for unsent bad reviews near or past their deadline.

    `records` are (record, where) pairs of what is still on the tablet. A bad
    review whose `due_at` is unreadable alerts at once: its deadline is
    unknown, which is itself worth a look.
    """
    out = []
    for rec, where in records:
        if not is_bad_review(rec):
            continue
        due = parse_time(rec.get("due_at"))
        if due is None or now >= due:
            level = OVERDUE
        elif now >= due - alert_before:
            level = WARNING
        else:
            continue
        alert = DeadlineAlert(str(rec.get("id")), level, rec.get("due_at"), rec.get("window_id"),
                              rec.get("ticket"), where)
        if alert.key not in already:
            out.append(alert)
    return out


def auth_alert(problem: str | None, at: str | None) -> dict[str, Any]:
    """Sending stopped: the center refuses the device's token (401/403), or the
    token file cannot be used. Not about any one record."""
    return {"kind": AUTH, "level": "error", "problem": problem, "at": at}


def alert_line(alert: Mapping[str, Any]) -> str:
    """What hall IT reads for one alert, whatever its kind."""
    kind = alert.get("kind")
    if kind == AUTH:
        return (f"ALERT sending stopped since {readable(alert.get('at')) if alert.get('at') else '?'}: {alert.get('problem') or 'token refused'}; "
                f"put this device's token alone in the token file (hall-center rotate-token prints a new "
                f"one): sending resumes when the file changes")
    if kind == DEADLINE:
        when = "was due" if alert.get("level") == OVERDUE else "due"
        return (f"ALERT {alert.get('level')}: bad review {alert.get('id')} window {alert.get('window_id')} "
                f"ticket {alert.get('ticket')} {when} {readable(alert.get('due_at')) if alert.get('due_at') else '(unreadable due_at)'}, "
                f"still {alert.get('where')} on the tablet")
    rest = {k: v for k, v in alert.items() if k not in ("kind", "level", "key")}
    return f"ALERT {alert.get('level')}: {kind}: {rest}"
