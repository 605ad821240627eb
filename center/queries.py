"""The dashboard's SQL, in one place (SQLAlchemy Core): what its pages read,
and the staff sessions (rules in center/sessions.py).

Each function takes an open connection; page queries take the actor's scope
(a window id, or None for every window), so a handler's filter is applied
here, once. Times are the naive UTC the tables hold (hallclock.to_db).
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import delete, func, insert, or_, select, update

from hallcore.hallclock import from_db, hall_day

from .casesource import case_select
from .db import (
    alerts, cases, comments, daily_stats, devices, rectification_items, rectification_log, records,
    second_evaluations, sessions, supervisions, typical_cases, users,
)
from .stats import day_start_utc

MAX_CASE_ROWS = 500
RECENT_ALERTS = 10
MAX_GAP_RANGES = 200


def user_by_name(conn, name: str):
    return conn.execute(select(users).where(users.c.name == name)).first()


def case_list(conn, *, closed: bool, scope: str | None):
    """Open (or closed) cases with their record or 综合点评 entry, earliest deadline first."""
    q = case_select().order_by(cases.c.due_at)
    q = q.where(cases.c.state == "closed") if closed else q.where(cases.c.state != "closed")
    if scope is not None:
        q = q.where(cases.c.window_id == scope)
    return conn.execute(q.limit(MAX_CASE_ROWS)).all()


def case_supervisions(conn, case_id: int):
    """The case's 交办 and 督办 notices (GB/T 39046 table 11), oldest first."""
    return conn.execute(select(supervisions).where(supervisions.c.case_id == case_id)
                        .order_by(supervisions.c.id)).all()


def case_second_evaluation(conn, case_id: int):
    return conn.execute(select(second_evaluations)
                        .where(second_evaluations.c.case_id == case_id)).first()


def case_rectification_items(conn, case_id: int):
    return conn.execute(select(rectification_items).where(rectification_items.c.case_id == case_id)
                        .order_by(rectification_items.c.id)).all()


def rectification_list(conn, *, done: bool):
    """Entries not done (or done), oldest target first (those without one last)."""
    q = select(rectification_items)
    q = q.where(rectification_items.c.state == "done") if done else \
        q.where(rectification_items.c.state != "done")
    return conn.execute(q.order_by(rectification_items.c.target_at.is_(None),
                                   rectification_items.c.target_at, rectification_items.c.id)
                        .limit(MAX_CASE_ROWS)).all()


def rectification_item_log(conn, item_id: int):
    return conn.execute(select(rectification_log).where(rectification_log.c.item_id == item_id)
                        .order_by(rectification_log.c.id)).all()


def record_windows(conn) -> list[tuple[str, int]]:
    """Every window id the records name, with its record count (from the rollup)."""
    q = (select(daily_stats.c.window_id, func.sum(daily_stats.c.total))
         .group_by(daily_stats.c.window_id).order_by(daily_stats.c.window_id))
    return [(w, int(n or 0)) for w, n in conn.execute(q)]


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


# ------------------------------------------------------------ the public page


def latest_data_day(conn, before: date | None = None) -> date | None:
    """The last hall day before `before` with a record (the rollup) or a case
    (a 综合点评's has no record): two index lookups (daily_stats' key leads
    with day, ix_cases_voted with voted_at)."""
    dq = select(func.max(daily_stats.c.day))
    cq = select(func.max(cases.c.voted_at))
    if before is not None:
        dq = dq.where(daily_stats.c.day < before)
        cq = cq.where(cases.c.voted_at < day_start_utc(before))
    day, voted = conn.execute(dq).scalar(), conn.execute(cq).scalar()
    if day is not None and not isinstance(day, date):
        day = date.fromisoformat(str(day))
    days = [x for x in (day, hall_day(from_db(voted)) if voted is not None else None) if x is not None]
    return max(days) if days else None


def months_with_data(conn, count: int) -> list[date]:
    """The first days of the last `count` months with data, newest first
    (at most two index lookups per month, however many rows)."""
    out: list[date] = []
    before = None
    while len(out) < count:
        day = latest_data_day(conn, before)
        if day is None:
            break
        before = day.replace(day=1)
        out.append(before)
    return out


PUBLIC_TYPICAL_LIMIT = 50


def public_typical_cases(conn, start: datetime, end: datetime):
    """The typical cases evaluated in [start, end) (naive UTC), newest first:
    the mark and the case's public columns only, plus the staff member's id
    and record name so the page can keep them out (never shown). A PK join
    per marked case, no scan of records."""
    q = (select(typical_cases.c.kind, typical_cases.c.summary, cases.c.window_id, cases.c.department,
                cases.c.voted_at, cases.c.state, cases.c.on_time, cases.c.rectified_at, cases.c.appeal,
                cases.c.second_rating, cases.c.staff_id, records.c.staff_name,
                func.coalesce(records.c.matter_name, comments.c.matter_name).label("matter_name"))
         .select_from(typical_cases.join(cases, cases.c.id == typical_cases.c.case_id)
                      .outerjoin(records, records.c.id == cases.c.record_id)
                      .outerjoin(comments, comments.c.id == cases.c.comment_id))
         .where(cases.c.voted_at >= start, cases.c.voted_at < end)
         .order_by(cases.c.voted_at.desc(), typical_cases.c.case_id.desc())
         .limit(PUBLIC_TYPICAL_LIMIT))
    return conn.execute(q).all()


# ------------------------------------------------------------ sessions


def session_login(conn, key_hash: str):
    """The session with this key hash joined with its user, or None."""
    q = (select(sessions.c.created_at, sessions.c.seen_at, sessions.c.csrf, users.c.name,
                users.c.role, users.c.window_id, users.c.disabled_at, users.c.staff_id)
         .join(users, users.c.name == sessions.c.user_name)
         .where(sessions.c.key_hash == key_hash))
    return conn.execute(q).first()


def start_session(conn, key_hash: str, user_name: str, csrf: str, now) -> None:
    conn.execute(insert(sessions).values(key_hash=key_hash, user_name=user_name, csrf=csrf,
                                         created_at=now, seen_at=now))


def touch_session(conn, key_hash: str, now) -> None:
    conn.execute(update(sessions).where(sessions.c.key_hash == key_hash).values(seen_at=now))


def end_session(conn, key_hash: str) -> None:
    conn.execute(delete(sessions).where(sessions.c.key_hash == key_hash))


def end_sessions_of(conn, user_name: str) -> int:
    """End every session of a user (password change, disabled); how many."""
    return conn.execute(delete(sessions).where(sessions.c.user_name == user_name)).rowcount


def end_stale_sessions(conn, created_before, seen_before) -> int:
    return conn.execute(delete(sessions).where(
        or_(sessions.c.created_at < created_before, sessions.c.seen_at < seen_before))).rowcount
