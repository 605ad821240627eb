"""The dashboard's SQL: what its pages read, in one place (SQLAlchemy Core).

Each function takes an open connection and the actor's scope (a window id,
or None for every window), so a handler's filter is applied here, once.
"""
from __future__ import annotations

from sqlalchemy import func, select

from .db import alerts, cases, devices, records, users

MAX_CASE_ROWS = 500
RECENT_ALERTS = 10
MAX_GAP_RANGES = 200


def user_by_name(conn, name: str):
    return conn.execute(select(users).where(users.c.name == name)).first()


def case_list(conn, *, closed: bool, scope: str | None):
    """Open (or closed) cases with their record, earliest deadline first."""
    q = (select(cases, records.c.body).join(records, records.c.id == cases.c.record_id)
         .order_by(cases.c.due_at))
    q = q.where(cases.c.state == "closed") if closed else q.where(cases.c.state != "closed")
    if scope is not None:
        q = q.where(cases.c.window_id == scope)
    return conn.execute(q.limit(MAX_CASE_ROWS)).all()


def recent_dashboard_alerts(conn):
    """The newest alerts of the dashboard channel (the caller filters by scope:
    the window is inside the JSON payload)."""
    return conn.execute(select(alerts).where(alerts.c.channel == "dashboard")
                        .order_by(alerts.c.id.desc()).limit(RECENT_ALERTS)).all()


def device_list(conn, scope: str | None):
    q = select(devices).order_by(devices.c.hall_id, devices.c.window_id, devices.c.device_id)
    if scope is not None:
        q = q.where(devices.c.window_id == scope)
    return conn.execute(q).all()


def device(conn, device_id: str):
    return conn.execute(select(devices).where(devices.c.device_id == device_id)).first()


def seq_gaps(conn, device_id: str) -> list[tuple[int, int]]:
    """The missing seq ranges (first, last) of one tablet, computed with LAG."""
    prev = func.lag(records.c.seq).over(order_by=records.c.seq)
    inner = (select(records.c.seq.label("seq"), prev.label("prev"))
             .where(records.c.device_id == device_id).subquery())
    q = (select(inner.c.prev, inner.c.seq)
         .where(inner.c.seq - func.coalesce(inner.c.prev, 0) > 1).limit(MAX_GAP_RANGES))
    return [(int(p or 0) + 1, int(s) - 1) for p, s in conn.execute(q)]
