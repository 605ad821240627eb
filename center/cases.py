"""The life of a bad-review case, as pure rules (no database, no clock).

new → verifying (核实) → handled (反馈 given to the citizen) → closed
new|verifying → coordinating (7 working days from the vote) → closed
Appeal (申诉复核): staff claim the review mistaken or malicious; a supervisor
upholds (the review leaves the scores, the case closes, the record is kept)
or rejects it (the case goes on). Each allowed action yields the column
updates and one log entry; anything else raises CaseError with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hallcore.backoff import doubling

STATE_LABELS = {
    "new": "待核实",
    "verifying": "核实中",
    "handled": "已反馈",
    "coordinating": "协调办理中",
    "closed": "已办结",
}
OPEN_STATES = ("new", "verifying", "handled", "coordinating")
# States in which the deadline still runs (feedback not yet given).
RUNNING_STATES = ("new", "verifying", "coordinating")
APPEAL_LABELS = {"none": "", "pending": "申诉待复核", "upheld": "申诉成立", "rejected": "申诉驳回"}
CLAIM_LABELS = {"mistaken": "误评", "malicious": "恶意评价"}
ACTION_LABELS = {
    "open": "生成差评工单",
    "verify": "开始核实",
    "feedback": "记录反馈",
    "coordinate": "转协调办理",
    "close": "办结",
    "appeal": "提出申诉",
    "uphold": "申诉成立",
    "reject_appeal": "申诉驳回",
    "due_today": "今日到期提醒",
    "escalate": "超期交办督办",
}
MAX_NOTE = 2000


class CaseError(ValueError):
    """An action that the case's state or the actor's role does not allow."""


@dataclass(frozen=True)
class Actor:
    name: str
    role: str                 # "handler" | "supervisor" | "system"
    window_id: str | None = None
    staff_id: str | None = None   # the user's own staff id, if any (anomalies.visible_to)

    @property
    def scope(self) -> str | None:
        """The one window this actor works for; None means every window."""
        if self.role in ("supervisor", "system"):
            return None
        return self.window_id or ""          # a handler without a window sees none


@dataclass(frozen=True)
class CaseView:
    state: str
    window_id: str
    due_at: datetime
    appeal: str = "none"
    feedback: str | None = None
    handled_at: datetime | None = None


@dataclass(frozen=True)
class Change:
    updates: dict[str, Any]
    action: str
    from_state: str
    to_state: str
    note: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def can_see(actor: Actor, window_id: str) -> bool:
    """Handlers see their own window's cases; supervisors see all."""
    return actor.scope is None or actor.scope == window_id


def _text(value: str | None, what: str) -> str:
    v = (value or "").strip()
    if not v:
        raise CaseError(f"请填写{what}")
    if len(v) > MAX_NOTE:
        raise CaseError(f"{what}过长（最多 {MAX_NOTE} 字）")
    return v


def available(case: CaseView, actor: Actor) -> list[str]:
    """The actions `actor` may take on `case` now (what the page offers)."""
    out = []
    for action in ("verify", "feedback", "coordinate", "close", "appeal", "uphold", "reject_appeal"):
        try:
            apply(case, action, actor, now=case.due_at, note="x", feedback="x", claim="mistaken",
                  coordination_due=case.due_at)
        except CaseError:
            continue
        out.append(action)
    return out


def apply(case: CaseView, action: str, actor: Actor, *, now: datetime,
          note: str | None = None, feedback: str | None = None, claim: str | None = None,
          coordination_due: datetime | None = None) -> Change:
    """The change `action` makes to `case`, or CaseError saying why not."""
    if not can_see(actor, case.window_id):
        raise CaseError("只能处理本窗口的差评工单")
    s = case.state
    if s == "closed":
        raise CaseError("工单已办结")

    def move(to: str, updates: dict[str, Any] | None = None, text: str | None = None) -> Change:
        u = dict(updates or {})
        u["state"] = to
        return Change(u, action, s, to, text)

    if action == "verify":
        if s != "new":
            raise CaseError("只有待核实的工单可以开始核实")
        return move("verifying", text=(note or "").strip() or None)
    if action == "feedback":
        if s != "verifying":
            raise CaseError("请先核实，再记录给群众的反馈")
        text = _text(feedback, "给群众的反馈内容")
        return move("handled", {"feedback": text, "handled_at": now}, text)
    if action == "coordinate":
        if s not in ("new", "verifying"):
            raise CaseError("只有未反馈的工单可以转协调办理")
        if coordination_due is None:
            raise CaseError("缺少协调办理期限")
        text = _text(note, "需要协调的问题")
        return move("coordinating", {"due_at": coordination_due, "due_alerted": False,
                                     "escalated": False}, text)
    if action == "close":
        if s == "handled":
            on_time = case.handled_at is not None and case.handled_at <= case.due_at
            return move("closed", {"closed_at": now, "on_time": on_time}, (note or "").strip() or None)
        if s == "coordinating":
            text = _text(feedback or case.feedback, "给群众的反馈内容")
            return move("closed", {"closed_at": now, "feedback": text, "handled_at": now,
                                   "on_time": now <= case.due_at}, text)
        raise CaseError("请先记录反馈或完成协调，再办结")
    if action == "appeal":
        if actor.role == "system":
            raise CaseError("申诉须由工作人员提出")
        if case.appeal != "none":
            raise CaseError("该工单已提出过申诉")
        if claim not in CLAIM_LABELS:
            raise CaseError("请选择申诉理由：误评或恶意评价")
        text = _text(note, "申诉说明")
        return Change({"appeal": "pending", "appeal_claim": claim, "appeal_note": text},
                      action, s, s, f"{CLAIM_LABELS[claim]}：{text}")
    if action in ("uphold", "reject_appeal"):
        if actor.role != "supervisor":
            raise CaseError("申诉复核须由中心督办人员决定")
        if case.appeal != "pending":
            raise CaseError("没有待复核的申诉")
        text = _text(note, "复核意见")
        if action == "uphold":
            return Change({"appeal": "upheld", "state": "closed", "closed_at": now, "on_time": None},
                          action, s, "closed", text, {"exclude_from_scores": True})
        return Change({"appeal": "rejected"}, action, s, s, text)
    raise CaseError(f"未知操作 {action!r}")


def due_alerts(state: str, due_at: datetime, *, due_alerted: bool, escalated: bool,
               now: datetime, morning) -> list[str]:
    """Which deadline alerts a case needs at `now` (hall-local times):
    'due_today' on the morning of the due day, 'escalate' once overdue."""
    if state not in RUNNING_STATES:
        return []
    if now > due_at:
        return [] if escalated else ["escalate"]
    if not due_alerted and now.date() == due_at.date() and now.time() >= morning:
        return ["due_today"]
    return []


def retry_delay(attempts: int, first_s: int, max_s: int) -> int:
    """Seconds before the next try of an undelivered alert: doubling, capped."""
    return int(doubling(attempts, first_s, max_s))
