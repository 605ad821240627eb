"""The handling mechanism (工作机制) of a case, as pure rules on top of
center/cases.py: 当场裁定, 交办 and 督办, 拟办意见 and 整改结果, 回复结果,
回访, 二次评价, and closing a case whose cause is structural (体制机制),
which opens an item on the rectification list (整改重点, its own small
machine below).

The case's states stay cases.py's (new, verifying, handled, coordinating,
closed); the actions cases.py knows are delegated to it unchanged. What a
case is handed to (交办), what it was told (回复), who checked back (回访)
are columns beside the state, not states of their own, so every existing
transition still holds. Each allowed action returns a cases.Change: the
column updates, the log entry, and in `extra` the rows other tables take
(a GB/T 39046 table 11 督办 row, a 二次评价, a rectification item).
Anything else raises CaseError with the reason in Chinese.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields as dc_fields, replace
from datetime import datetime
from typing import Any

from hallcore.record import SCALES

from .cases import (
    ACTION_LABELS as CASE_ACTION_LABELS, OPEN_STATES, RUNNING_STATES, Actor, CaseError, CaseView,
    Change, _text, apply as case_apply, can_see,
)
from hallcore.hallclock import hall_day

CASE_ACTIONS = ("verify", "feedback", "coordinate", "close", "appeal", "uphold", "reject_appeal")
ACTION_LABELS = {
    **CASE_ACTION_LABELS,
    "rule_on_spot": "当场裁定",
    "assign": "交办",
    "supervise": "督办",
    "propose": "拟办意见",
    "rectify": "整改结果",
    "visit": "回访",
    "second_evaluation": "二次评价",
    "close_structural": "体制机制问题办结",
}
ACTIONS = tuple(a for a in ACTION_LABELS if a not in ("open", "due_today", "escalate"))
VISIT_METHODS = {"phone": "电话", "sms": "短信", "on_site": "上门", "online": "网上"}
# A rating's label by its name (the same on the 3- and 5-level scales), for pages and exports.
RATING_LABELS = {lv.name: lv.label for sc in SCALES.values() for lv in sc.levels}
# Who writes a second evaluation through which channel (center/channels.py values).
SECOND_EVALUATION_CHANNELS = {"system": "qr", "supervisor": "phone"}
MAX_DEPARTMENT = 200
_WARNING_CODE = re.compile(r"[A-Za-z0-9]{1,20}")    # 监察预警类型代码: the province's list


@dataclass(frozen=True)
class HandlingView(CaseView):
    """What the rules read of a case: cases.CaseView plus the mechanism's columns."""
    voted_at: datetime | None = None           # the evaluation (or a 综合点评's receipt)
    department: str = ""                       # the window's department, from the directory
    assigned_department: str | None = None     # 责任部门 of the latest 交办
    proposal: str | None = None                # 拟办意见
    rectified_at: datetime | None = None       # when 整改结果 was recorded
    visited: bool = False                      # 是否回访 (a reached visit)
    second_evaluated: bool = False             # 评价次数 2 recorded
    supervision_count: int = 0                 # 督办 notices so far
    closed_at: datetime | None = None


def _change(case: CaseView, action: str, updates: dict[str, Any], note: str | None,
            to_state: str | None = None, extra: dict[str, Any] | None = None) -> Change:
    if to_state is not None:
        updates = {**updates, "state": to_state}
    return Change(updates, action, case.state, to_state or case.state, note, dict(extra or {}))


def _need_supervisor(actor: Actor, what: str) -> None:
    if actor.role != "supervisor":
        raise CaseError(f"{what}须由中心督办人员操作")


def _staff_only(actor: Actor, what: str) -> None:
    if actor.role not in ("handler", "supervisor"):
        raise CaseError(f"{what}须由工作人员操作")


def _when(value: datetime | None, now: datetime, case: HandlingView, what: str) -> datetime:
    """A time staff give for something that already happened: not in the
    future, not before the evaluation."""
    if value is None:
        return now
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware, got {value!r}")
    if value > now:
        raise CaseError(f"{what}不能晚于现在")
    if case.voted_at is not None and value < case.voted_at:
        raise CaseError(f"{what}不能早于评价时间")
    return value


def _department(value: str | None, default: str, what: str = "责任部门") -> str:
    v = (value or "").strip() or default
    if not v:
        raise CaseError(f"请选择{what}")
    if len(v) > MAX_DEPARTMENT:
        raise CaseError(f"{what}过长（最多 {MAX_DEPARTMENT} 字）")
    return v


def _warning_code(value: str | None) -> str | None:
    v = (value or "").strip()
    if v and not _WARNING_CODE.fullmatch(v):
        raise CaseError("监察预警类型代码只能是 1 至 20 位字母或数字")
    return v or None


def _supervision(kind: str, content: str | None, department: str, warning_code: str | None,
                 now: datetime, due_at: datetime) -> dict[str, Any]:
    """A GB/T 39046 table 11 row: 督办内容, 督办发出时间, 责任部门, 监察预警类型代码."""
    what = "交办内容" if kind == "assign" else "督办内容"
    return {"kind": kind, "content": _text(content, what), "issued_at": now,
            "department": department, "warning_code": _warning_code(warning_code), "due_at": due_at}


# -------------------------------------------------------------- deadlines

def supervision_open(due_at: datetime, now: datetime) -> bool:
    """督办 is for a case near or past its deadline: from the due day (hall
    time; the day the due-today reminder goes out) on."""
    return hall_day(now) >= hall_day(due_at)


def assign_deadline(case: CaseView, requested: datetime | None, *, now: datetime,
                    coordination_due: datetime | None) -> datetime:
    """The deadline a 交办 gives: the case's current one, or a later one the
    supervisor sets, after now and at most the 7-working-day coordination
    limit counted from the evaluation."""
    if requested is None:
        return case.due_at
    if requested.tzinfo is None or requested.utcoffset() is None:
        raise ValueError(f"deadline must be timezone-aware, got {requested!r}")
    if requested < case.due_at:
        raise CaseError("交办期限不能早于现有办理期限")
    if requested <= now:
        raise CaseError("交办期限须晚于现在")
    if coordination_due is None:
        raise CaseError("缺少协调办理期限")
    if requested > coordination_due:
        raise CaseError("交办期限不能超过评价后 7 个工作日的协调办理期限")
    return requested


def second_evaluation_allowed(case: HandlingView) -> str | None:
    """None if the citizen may evaluate again now, else why not (shown as is)."""
    if case.appeal == "upheld":
        return "该评价经申诉复核不计入，不能二次评价"
    if case.second_evaluated:
        return "已进行过二次评价"
    if case.rectified_at is None:
        return "整改完成后才能进行二次评价"
    return None


# ------------------------------------------------------------------ apply

def apply(case: HandlingView, action: str, actor: Actor, *, now: datetime,
          note: str | None = None, feedback: str | None = None, claim: str | None = None,
          coordination_due: datetime | None = None, department: str | None = None,
          content: str | None = None, deadline: datetime | None = None,
          warning_code: str | None = None, told_at: datetime | None = None,
          method: str | None = None, at: datetime | None = None, reached: bool = True,
          satisfaction: str | None = None, rating: str | None = None, scale: int = 3,
          record_id: str | None = None, target_at: datetime | None = None) -> Change:
    """The change `action` makes to `case`, or CaseError saying why not.

    Inputs by action (all others ignored):
      feedback (回复结果), and close of a coordinating case: feedback, told_at
                     (when the citizen was told; default now)
      rule_on_spot: note (the ruling, also what the citizen is told)
      assign (交办): department, content, deadline (None: keep due_at), warning_code,
                     coordination_due (the 7-working-day limit)
      supervise (督办): content, department (None: the assigned or the window's), warning_code
      propose (拟办意见) / rectify (整改结果): note
      visit (回访): method, at, reached, satisfaction (3-level name), note
      second_evaluation (二次评价): rating, scale, record_id (the new record)
      close_structural: note (the explanation), content (the cause, for the list),
                        department, target_at
      the cases.py actions: as cases.apply
    """
    if not can_see(actor, case.window_id):
        raise CaseError("只能处理本窗口的差评工单")
    if action in CASE_ACTIONS:
        ch = case_apply(case, action, actor, now=now, note=note, feedback=feedback, claim=claim,
                        coordination_due=coordination_due)
        if action == "feedback" or (action == "close" and case.state == "coordinating"):
            # 回复结果: what the citizen was told (the feedback) and when
            ch.updates["reply_told_at"] = _when(told_at, now, case, "告知群众时间")
        return ch
    if action == "second_evaluation":
        return _second_evaluation(case, actor, now=now, rating=rating, scale=scale, record_id=record_id)
    if action == "visit":
        return _visit(case, actor, now=now, method=method, at=at, reached=reached,
                      satisfaction=satisfaction, note=note)
    if action not in ACTIONS:
        raise CaseError(f"未知操作 {action!r}")
    if case.state == "closed":
        raise CaseError("工单已办结")
    s = case.state

    if action == "rule_on_spot":
        _staff_only(actor, "当场裁定")
        if s not in ("new", "verifying"):
            raise CaseError("只有待核实或核实中的工单可以当场裁定")
        if case.voted_at is None or hall_day(now) != hall_day(case.voted_at):
            raise CaseError("当场裁定须在评价当日作出，其他情况请按核实、反馈办理")
        text = _text(note, "裁定意见")
        return _change(case, action, {"feedback": text, "handled_at": now, "reply_told_at": now,
                                      "closed_at": now, "on_time": now <= case.due_at,
                                      "ruled_on_spot": True}, text, "closed")

    if action == "assign":
        _need_supervisor(actor, "交办")
        if s not in RUNNING_STATES:
            raise CaseError("已反馈的工单不需要交办")
        dept = _department(department, "")
        due = assign_deadline(case, deadline, now=now, coordination_due=coordination_due)
        row = _supervision("assign", content, dept, warning_code, now, due)
        updates: dict[str, Any] = {"assigned_department": dept, "assigned_at": now}
        to = None
        if due != case.due_at:
            # a later deadline is coordination time granted by the supervisor
            updates.update(due_at=due, due_alerted=False, escalated=False)
            to = "coordinating"
        return _change(case, action, updates, f"交办{dept}：{row['content']}", to, {"supervision": row})

    if action == "supervise":
        if actor.role not in ("supervisor", "system"):
            raise CaseError("督办须由中心督办人员操作")
        if s not in RUNNING_STATES:
            raise CaseError("已反馈的工单不需要督办")
        if not supervision_open(case.due_at, now):
            raise CaseError("工单未临近期限，暂不需要督办")
        dept = _department(department, case.assigned_department or case.department)
        row = _supervision("supervise", content, dept, warning_code, now, case.due_at)
        return _change(case, action, {"supervision_count": case.supervision_count + 1,
                                      "last_supervised_at": now},
                       f"督办{dept}：{row['content']}", None, {"supervision": row})

    if action == "propose":
        _staff_only(actor, "拟办意见")
        if s not in RUNNING_STATES:
            raise CaseError("已反馈的工单不能再填写拟办意见")
        text = _text(note, "拟办意见")
        return _change(case, action, {"proposal": text, "proposed_at": now}, text)

    if action == "rectify":
        _staff_only(actor, "整改结果")
        if s not in RUNNING_STATES + ("handled",):
            raise CaseError("该工单不能记录整改结果")
        if case.second_evaluated:
            raise CaseError("已进行二次评价，整改结果不能再修改")
        text = _text(note, "整改结果")
        return _change(case, action, {"rectification": text, "rectified_at": now}, text)

    if action == "close_structural":
        _need_supervisor(actor, "体制机制问题办结")
        if s not in OPEN_STATES:
            raise CaseError("工单已办结")
        text = _text(note, "向群众的解释说明")
        cause = _text(content, "体制机制问题")
        dept = _department(department, case.assigned_department or case.department)
        if target_at is not None and target_at <= now:
            raise CaseError("整改重点的完成期限须晚于现在")
        handled = case.handled_at or now
        updates = {"closed_at": now, "structural": True, "structural_note": text,
                   "feedback": case.feedback or text, "handled_at": handled,
                   "on_time": handled <= case.due_at}
        if case.handled_at is None:
            updates["reply_told_at"] = now
        item = new_item(cause=cause, department=dept, now=now, target_at=target_at)
        return _change(case, action, updates, f"{text}（体制机制问题：{cause}）", "closed",
                       {"rectification_item": item})
    raise CaseError(f"未知操作 {action!r}")    # pragma: no cover - ACTIONS is exhaustive above


def _visit(case: HandlingView, actor: Actor, *, now: datetime, method: str | None,
           at: datetime | None, reached: bool, satisfaction: str | None,
           note: str | None) -> Change:
    # The center checks back, not the window whose work is being checked.
    _need_supervisor(actor, "回访")
    if case.appeal == "upheld":
        raise CaseError("该评价经申诉复核不计入，不需要回访")
    if case.feedback is None:
        raise CaseError("请先答复群众，再回访")
    if method not in VISIT_METHODS:
        raise CaseError("请选择回访方式：" + "、".join(VISIT_METHODS.values()))
    when = _when(at, now, case, "回访时间")
    remark = (note or "").strip() or None
    if remark is not None and len(remark) > 2000:
        raise CaseError("回访备注过长（最多 2000 字）")
    if not reached:
        if satisfaction is not None:
            raise CaseError("未联系上群众，不能记录满意度")
        return _change(case, "visit", {}, f"{VISIT_METHODS[method]}回访未联系上" +
                       (f"：{remark}" if remark else ""))
    try:
        level = SCALES[3].level(satisfaction)
    except KeyError:
        raise CaseError("请选择群众对处理结果的满意度：满意、基本满意或不满意") from None
    updates = {"visited": True, "visit_method": method, "visited_at": when,
               "visit_satisfaction": level.name, "visit_note": remark}
    return _change(case, "visit", updates, f"{VISIT_METHODS[method]}回访，群众{level.label}" +
                   (f"：{remark}" if remark else ""))


def _second_evaluation(case: HandlingView, actor: Actor, *, now: datetime, rating: str | None,
                       scale: int, record_id: str | None) -> Change:
    channel = SECOND_EVALUATION_CHANNELS.get(actor.role)
    if channel is None:
        raise CaseError("二次评价由群众通过二维码或回访电话作出")
    why = second_evaluation_allowed(case)
    if why:
        raise CaseError(why)
    sc = SCALES.get(scale)
    if sc is None:
        raise ValueError(f"scale must be 3 or 5, got {scale!r}")
    try:
        level = sc.level(rating)
    except KeyError:
        raise CaseError("请选择评价等级") from None
    updates = {"second_evaluated": True, "second_rating": level.name, "second_channel": channel,
               "second_evaluated_at": now, "second_record_id": record_id}
    extra = {"second_evaluation": {"evaluation_no": 2, "rating": level.name, "scale": scale,
                                   "channel": channel, "bad": level.bad, "record_id": record_id}}
    return _change(case, "second_evaluation", updates, f"二次评价：{level.label}", None, extra)


def advance(case: HandlingView, change: Change) -> HandlingView:
    """The view after `change`: its updates to the fields the view has."""
    known = {f.name for f in dc_fields(case)}
    return replace(case, **{k: v for k, v in change.updates.items() if k in known})


_PROBE = dict(note="x", feedback="x", claim="mistaken", department="x", content="x",
              method="phone", satisfaction="satisfied", rating="satisfied")


def available(case: HandlingView, actor: Actor, *, now: datetime,
              coordination_due: datetime | None = None) -> list[str]:
    """The actions `actor` may take on `case` at `now` (what the page offers)."""
    out = []
    for action in ACTIONS:
        try:
            apply(case, action, actor, now=now, coordination_due=coordination_due or case.due_at,
                  **_PROBE)
        except CaseError:
            continue
        out.append(action)
    return out


# ------------------------------------------------- the rectification list

ITEM_STATES = {"open": "待整改", "in_progress": "整改中", "done": "已完成"}
ITEM_ACTIONS = {"start": "开始整改", "progress": "整改进展", "finish": "整改完成", "reopen": "重新整改"}


@dataclass(frozen=True)
class ItemView:
    """An entry of the rectification list (整改重点)."""
    state: str
    department: str
    target_at: datetime | None = None


def new_item(*, cause: str, department: str, now: datetime,
             target_at: datetime | None = None) -> dict[str, Any]:
    """The columns of a new rectification-list entry."""
    return {"state": "open", "cause": cause, "department": department, "opened_at": now,
            "target_at": target_at, "result": None, "done_at": None}


def item_apply(item: ItemView, action: str, actor: Actor, *, now: datetime,
               note: str | None = None, department: str | None = None,
               target_at: datetime | None = None) -> Change:
    """open → in_progress (start: the plan) → done (finish: the result);
    progress notes while in progress; reopen a done entry whose fix did not hold."""
    _need_supervisor(actor, "整改重点")
    s = item.state

    def move(to: str, updates: dict[str, Any], text: str) -> Change:
        return Change({**updates, "state": to}, action, s, to, text)

    if target_at is not None and target_at <= now:
        raise CaseError("整改完成期限须晚于现在")
    if action == "start":
        if s != "open":
            raise CaseError("只有待整改的条目可以开始整改")
        plan = _text(note, "整改方案")
        updates: dict[str, Any] = {"plan": plan, "started_at": now,
                                   "department": _department(department, item.department)}
        if target_at is not None:
            updates["target_at"] = target_at
        return move("in_progress", updates, plan)
    if action == "progress":
        if s != "in_progress":
            raise CaseError("只有整改中的条目可以记录进展")
        text = _text(note, "整改进展")
        return move("in_progress", {"target_at": target_at} if target_at else {}, text)
    if action == "finish":
        if s not in ("open", "in_progress"):
            raise CaseError("该条目已完成")
        result = _text(note, "整改结果")
        return move("done", {"result": result, "done_at": now}, result)
    if action == "reopen":
        if s != "done":
            raise CaseError("只有已完成的条目可以重新整改")
        why = _text(note, "重新整改的原因")
        updates = {"done_at": None}
        if target_at is not None:
            updates["target_at"] = target_at
        return move("in_progress", updates, why)
    raise CaseError(f"未知操作 {action!r}")


def item_available(item: ItemView, actor: Actor, *, now: datetime) -> list[str]:
    """The steps `actor` may take on `item` now (what the page offers)."""
    out = []
    for action in ITEM_ACTIONS:
        try:
            item_apply(item, action, actor, now=now, note="x")
        except CaseError:
            continue
        out.append(action)
    return out


def item_overdue(item: ItemView, now: datetime) -> bool:
    """Not done and past its target date."""
    return item.state != "done" and item.target_at is not None and now > item.target_at


__all__ = ["ACTIONS", "ACTION_LABELS", "HandlingView", "ITEM_ACTIONS", "ITEM_STATES", "ItemView",
           "RATING_LABELS",
           "VISIT_METHODS", "advance", "apply", "assign_deadline", "available", "item_apply",
           "item_available",
           "item_overdue", "new_item", "second_evaluation_allowed", "supervision_open"]
