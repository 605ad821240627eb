"""Bad-review cases in the database: opening them at ingest, applying staff
actions (rules in center/handling.py on top of center/cases.py), the
deadline check that sends the due-day reminder and escalates overdue cases
(交办督办, with a table-11 督办 row), and the log."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any, Mapping

from sqlalchemy import false, func, insert, select, update

from hallcore.hallclock import from_db, hall_day, in_hall, show, stamp, to_db
from hallcore.record import SCALES, parse_time

from . import alerting, directory_db, disclosure, handling, rectification, upstreamwork
from .cases import RUNNING_STATES, Actor, CaseError, Change, due_alerts
from .casesource import alert_payload, case_select
from .db import case_log, cases, daily_stats, second_evaluations, supervisions
from .directory import Directory, department_of
from .handling import ACTION_LABELS, HandlingView
from .sqlutil import insert_rows

SYSTEM = Actor("系统", "system")
log = logging.getLogger("center.cases")


def _log(conn, case_id: int, now: datetime, actor: str, action: str,
         from_state: str | None, to_state: str | None, note: str | None = None) -> None:
    conn.execute(insert(case_log), dict(case_id=case_id, at=to_db(now), actor=actor, action=action,
                                        from_state=from_state, to_state=to_state, note=note))


def _alert_payload(rec: Mapping[str, Any], due_at: datetime) -> dict[str, Any]:
    return {"record_id": rec["id"], "hall_id": rec["hall_id"], "window_id": rec["window_id"],
            "staff_id": rec["staff_id"], "staff_name": rec["staff_name"],
            "matter_name": rec["matter_name"], "reasons": rec.get("reasons") or [],
            "due_at": stamp(due_at)}


def record_cases(center, items: list[tuple[Mapping[str, Any], Mapping[str, Any]]],
                 now: datetime) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """The (case row, new-case alert payload) of each bad review of a batch,
    (record, its records row) each, made before the records are written:
    ingest inserts the cases of the records stored now in the records'
    own statement, then calls cases_opened."""
    return [_record_case(center, rec, row, now) for rec, row in items]


def _record_case(center, rec: Mapping[str, Any], row: Mapping[str, Any],
                 now: datetime) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case row of a bad review and its new-case alert payload."""
    voted_at = parse_time(rec["voted_at"])
    due = center.deadlines.handling(in_hall(voted_at))
    tablet_due = parse_time(rec.get("due_at"))
    values = dict(
        record_id=rec["id"], hall_id=rec["hall_id"], window_id=rec["window_id"],
        department=row["department"], staff_id=rec["staff_id"], matter_code=rec["matter_code"],
        staff_name=rec["staff_name"], matter_name=rec["matter_name"], state="new",
        voted_at=to_db(voted_at), due_at=to_db(due.due_at), calendar_verified=due.verified,
        tablet_due_at=to_db(tablet_due) if tablet_due else None, appeal="none",
        due_alerted=False, escalated=False, updated_at=to_db(now))
    return values, _alert_payload(rec, due.due_at)


def insert_case(conn, center, values: Mapping[str, Any], payload: Mapping[str, Any], now: datetime,
                note: str | None = None) -> int:
    """Write a new case, its first log line and its new-case alert (one
    transaction: the caller's). `note` starts the log line."""
    return insert_cases(conn, center, [(values, payload)], now, note)[0]


def insert_cases(conn, center, new: list[tuple[Mapping[str, Any], Mapping[str, Any]]], now: datetime,
                 note: str | None = None) -> list[int]:
    """insert_case for several (values, payload), all with the same columns
    (several: of records, each with its record_id); returns the case ids in
    their order."""
    if not new:
        return []
    if len(new) == 1:     # (a 综合点评 case has no record id to match by)
        ids = [insert_rows(conn, cases, [dict(new[0][0])], returning=("id",))[0][0]]
    else:       # several bad reviews: one statement, matched back by record id
        by_record = dict(insert_rows(conn, cases, [dict(values) for values, _ in new],
                                     returning=("record_id", "id")))
        ids = [by_record[values["record_id"]] for values, _ in new]
    cases_opened(conn, center, new, ids, now, note)
    return ids


def cases_opened(conn, center, new: list[tuple[Mapping[str, Any], Mapping[str, Any]]], ids: list[int],
                 now: datetime, note: str | None = None) -> None:
    """The first log line and the new-case alert of each case just inserted
    ((values, payload) and its id, in one order)."""
    log_rows = []
    for case_id, (values, _) in zip(ids, new):
        notes = [note] if note else []
        if not values["calendar_verified"]:
            notes.append("节假日数据缺失，期限按周一至周五计算，未经核验")
        log_rows.append(dict(case_id=case_id, at=to_db(now), actor=SYSTEM.name, action="open",
                             from_state=None, to_state="new", note="；".join(notes) or None))
    insert_rows(conn, case_log, log_rows)
    alerting.enqueue_many(conn, center.cfg.alerts, "new_case",
                          [(case_id, dict(payload)) for case_id, (_, payload) in zip(ids, new)], now)


AUTO_SUPERVISION = "超期未反馈，自动督办"


def window_department(d: Directory | None, window_id: str, stamped: str) -> str:
    """The department a case's window belongs to: the directory's, else the
    one the config gave the record at ingest (DESIGN §13.6)."""
    dep = department_of(d, window_id) if d is not None else None
    return dep.name if dep is not None and dep.known else stamped


def case_view(row, d: Directory | None = None) -> HandlingView:
    """What the rules read of a case row (`d`: the directory, for the department)."""
    return HandlingView(
        state=row.state, window_id=row.window_id, due_at=from_db(row.due_at), appeal=row.appeal,
        feedback=row.feedback, handled_at=from_db(row.handled_at), voted_at=from_db(row.voted_at),
        department=window_department(d, row.window_id, row.department),
        assigned_department=row.assigned_department, proposal=row.proposal,
        rectified_at=from_db(row.rectified_at), visited=bool(row.visited),
        second_evaluated=bool(row.second_evaluated), supervision_count=row.supervision_count or 0,
        closed_at=from_db(row.closed_at))


def load_case(conn, case_id: int, *, lock: bool = False):
    """A case with its record's body or its 综合点评 entry (center/casesource.py);
    `lock`: FOR UPDATE on PostgreSQL, so two staff acting on one case at once
    take turns and the second sees the first's change (SQLite's BEGIN
    IMMEDIATE already serializes writers)."""
    q = case_select().where(cases.c.id == case_id)
    if lock:
        q = q.with_for_update(of=cases)
    return conn.execute(q).first()


def act(center, case_id: int, action: str, actor: Actor, **inputs: Any) -> Change:
    """Apply a staff action (inputs as handling.apply takes them); raises
    CaseError (shown to the user) or KeyError. Returns the change made."""
    now = center.clock()
    with center.engine.begin() as conn:
        row = load_case(conn, case_id, lock=True)
        if row is None:
            raise KeyError(case_id)
        if action == "second_evaluation" and row.record_id is None:
            raise CaseError("综合点评工单没有原评价记录，不能二次评价；请在回访信息中记录群众的满意度")
        d = directory_db.load(conn)
        coord = center.deadlines.coordination(from_db(row.voted_at)).due_at
        ch = handling.apply(case_view(row, d), action, actor, now=now, coordination_due=coord,
                            **inputs)
        note = ch.note
        if action == "coordinate":
            note = f"{ch.note}（协调办理期限 {show(coord)}）"
        elif action == "assign" and "due_at" in ch.updates:
            note = f"{ch.note}（办理期限延至 {show(ch.updates['due_at'])}）"
        elif action in ("feedback", "close") and "reply_told_at" in ch.updates:
            told = ch.updates["reply_told_at"]
            note = f"{ch.note}（告知群众 {show(told)}）" if told != now and note else note
        write_change(conn, center, row, ch, actor, now, note)
        return ch


def write_change(conn, center, row, ch: Change, actor: Actor, now: datetime,
                 note: str | None) -> None:
    """A change's column updates, the rows its `extra` names (督办, 二次评价,
    整改重点), and its log entry, in the caller's transaction."""
    values = {k: (to_db(v) if isinstance(v, datetime) else v) for k, v in ch.updates.items()}
    values["updated_at"] = to_db(now)
    conn.execute(update(cases).where(cases.c.id == row.id).values(**values))
    extra = ch.extra
    if extra.get("exclude_from_scores") and row.body is not None:
        # (an entry's case has no record in the scores)
        _exclude_from_scores(conn, row.body, row.department)
    if sup := extra.get("supervision"):
        conn.execute(insert(supervisions).values(
            case_id=row.id, kind=sup["kind"], content=sup["content"], issued_at=to_db(sup["issued_at"]),
            department=sup["department"], warning_code=sup["warning_code"],
            due_at=to_db(sup["due_at"]), actor=actor.name))
    if second := extra.get("second_evaluation"):
        level = SCALES[second["scale"]].level(second["rating"])
        conn.execute(insert(second_evaluations).values(
            case_id=row.id, first_record_id=row.record_id, evaluation_no=second["evaluation_no"],
            scale=second["scale"], rating=level.name, satisfaction_code=level.satisfaction_code,
            bad=level.bad, channel=second["channel"], at=to_db(now), actor=actor.name,
            record_id=second["record_id"]))
        if level.bad:
            # still dissatisfied after rectification: the center hears of it at once
            payload = {**alert_payload(row, from_db(row.due_at)), "to": "supervisor"}
            alerting.enqueue(conn, center.cfg.alerts, "second_bad", row.id, payload, now)
    _log(conn, row.id, now, actor.name, ch.action, ch.from_state, ch.to_state, note)
    if item := extra.get("rectification_item"):
        rectification.open_item(conn, row.id, item, actor, now)
    upstreamwork.enqueue_case_change(conn, center, row, ch, now)     # 整改结果, 二次评价 to the province


def _exclude_from_scores(conn, rec: Mapping[str, Any], department: str) -> None:
    """An upheld appeal: the bad review stays stored but leaves the scores
    (its own daily_stats row, by the key ingest counted it under)."""
    from .ingest import STATS_KEY_COLUMNS, stats_key      # ingest imports this module
    key = stats_key(rec, hall_day(parse_time(rec.get("voted_at"))), department)
    conn.execute(update(daily_stats).where(
        *(getattr(daily_stats.c, c) == v for c, v in zip(STATS_KEY_COLUMNS, key)),
    ).values(excluded=daily_stats.c.excluded + 1))


def check_deadlines(center) -> dict[str, int]:
    """Send the due-day reminder and escalate overdue cases; idempotent. An
    escalation is also a system 督办 (table 11 row), so overdue cases appear
    in the supervision export whether or not a supervisor pressed first.

    Safe with several instances running it at once: a case's flag is set by
    a conditional UPDATE (flag still false, state and deadline as read), and
    only the instance whose UPDATE changed the row writes the log line, the
    督办 and the alert, in the same transaction. On PostgreSQL a second
    instance's UPDATE waits for the first's commit and then matches nothing
    (the cases are taken in id order, so two rounds never deadlock)."""
    now = center.clock()
    local_now = in_hall(now)
    horizon = to_db(now + timedelta(days=1))
    counts = {"due_today": 0, "escalate": 0}
    with center.engine.begin() as conn:
        rows = conn.execute(
            case_select().where(cases.c.state.in_(RUNNING_STATES), cases.c.due_at <= horizon)
            .order_by(cases.c.id)).all()
        d = None
        for row in rows:
            due = from_db(row.due_at)
            for kind in due_alerts(row.state, due, due_alerted=row.due_alerted,
                                   escalated=row.escalated, now=local_now,
                                   morning=center.cfg.alerts.morning):
                flag = {"due_today": "due_alerted", "escalate": "escalated"}[kind]
                if not _take_flag(conn, row, flag, now):
                    continue        # another instance did it, or the case changed since it was read
                note = f"期限 {show(due)}" + ("，已提交中心督办" if kind == "escalate" else "")
                _log(conn, row.id, now, SYSTEM.name, kind, row.state, row.state, note)
                payload = alert_payload(row, due)
                if kind == "escalate":
                    payload["to"] = "supervisor"
                    d = d if d is not None else directory_db.load(conn)
                    held = load_case(conn, row.id)      # as it is now (this transaction holds its lock)
                    try:
                        ch = handling.apply(case_view(held, d), "supervise", SYSTEM, now=now,
                                            content=AUTO_SUPERVISION)
                    except CaseError as e:     # e.g. no department to name: the escalation stands
                        log.warning("case %s escalated without a 督办 row: %s", row.id, e)
                    else:
                        write_change(conn, center, held, ch, SYSTEM, now, ch.note)
                alerting.enqueue(conn, center.cfg.alerts, kind, row.id, payload, now)
                counts[kind] += 1
    return counts


def _take_flag(conn, row, flag: str, now: datetime) -> bool:
    """Set the case's reminder or escalation flag if it is still unset and
    the case still runs in the state and with the deadline `row` shows; True
    if this call set it (then this transaction holds the case's row lock)."""
    return conn.execute(update(cases).where(
        cases.c.id == row.id, cases.c[flag] == false(), cases.c.state == row.state,
        cases.c.due_at == row.due_at,
    ).values(**{flag: True, "updated_at": to_db(now)})).rowcount == 1


def tick(center) -> dict[str, int]:
    """One round of the background worker: deadlines, then the alert outbox."""
    out = check_deadlines(center)
    out.update(alerting.deliver_pending(center))
    return out


LOG_LABELS = {**ACTION_LABELS, **disclosure.LOG_LABELS}


def case_log_rows(conn, case_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(select(case_log).where(case_log.c.case_id == case_id)
                        .order_by(case_log.c.id)).all()
    return [{"at": show(from_db(r.at)), "actor": r.actor,
             "action": LOG_LABELS.get(r.action, r.action), "from": r.from_state,
             "to": r.to_state, "note": r.note or ""} for r in rows]


def open_case_count(conn) -> int:
    return conn.execute(select(func.count()).select_from(cases)
                        .where(cases.c.state != "closed")).scalar_one()


__all__ = ["AUTO_SUPERVISION", "CaseError", "SYSTEM", "act", "case_view", "check_deadlines",
           "cases_opened", "insert_case", "insert_cases", "load_case", "record_cases", "tick", "window_department", "write_change"]
