"""The handling mechanism (center/handling.py): 当场裁定, 交办, 督办, 整改, 回复,
回访, 二次评价 and 体制机制 problems, with a controllable clock and the real
calendar; a state-machine property test over random action sequences."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import event, given, settings, strategies as st

from center import handling
from center.cases import STATE_LABELS, Actor, CaseError
from center.deadlines import Deadlines
from center.handling import (
    HandlingView, ItemView, advance, apply, assign_deadline, available, item_apply, item_overdue,
    second_evaluation_allowed, supervision_open,
)

CST = timezone(timedelta(hours=8))
DEADLINES = Deadlines()                                   # the shared calendar, 17:30 closing
VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=CST)         # a Friday
DUE = DEADLINES.handling(VOTED).due_at                    # Tuesday 2026-12-01 17:30
COORD = DEADLINES.coordination(VOTED).due_at              # Tuesday 2026-12-08 17:30
HANDLER = Actor("wang", "handler", "03")
OTHER = Actor("zhao", "handler", "05")
BOSS = Actor("chen", "supervisor")
SYSTEM = Actor("系统", "system")


def at(day, hour=10, minute=0):
    return datetime(2026, 11 if day > 20 else 12, day, hour, minute, tzinfo=CST)


def case(**kw):
    base = dict(state="new", window_id="03", due_at=DUE, voted_at=VOTED, department="bdc")
    base.update(kw)
    return HandlingView(**base)


def step(c, action, actor=HANDLER, now=None, **kw):
    kw.setdefault("coordination_due", COORD)
    ch = apply(c, action, actor, now=now or at(30), **kw)
    return advance(c, ch), ch


def test_the_calendar_gives_the_documented_deadlines():
    assert DUE == datetime(2026, 12, 1, 17, 30, tzinfo=CST)
    assert COORD == datetime(2026, 12, 8, 17, 30, tzinfo=CST)


# ------------------------------------------------------------------ 当场裁定

def test_a_simple_case_is_ruled_on_the_spot_and_closed_the_same_day():
    now = at(27, 16, 10)
    c, ch = step(case(), "rule_on_spot", now=now, note="群众误解收费标准，当场解释，群众认可")
    assert c.state == "closed" and c.feedback == "群众误解收费标准，当场解释，群众认可"
    assert ch.updates["closed_at"] == ch.updates["handled_at"] == ch.updates["reply_told_at"] == now
    assert ch.updates["on_time"] is True and ch.updates["ruled_on_spot"] is True
    assert (ch.from_state, ch.to_state) == ("new", "closed")


def test_ruling_on_the_spot_is_only_for_the_evaluations_day():
    with pytest.raises(CaseError, match="评价当日"):
        step(case(), "rule_on_spot", now=at(28, 9), note="x")
    # the hall day counts, not UTC: 23:30 hall time is still the same day
    c, _ = step(case(), "rule_on_spot", now=at(27, 23, 30), note="当日裁定")
    assert c.state == "closed"


def test_ruling_on_the_spot_needs_a_note_an_open_case_and_staff_of_the_window():
    with pytest.raises(CaseError, match="裁定意见"):
        step(case(), "rule_on_spot", now=at(27, 16), note=" ")
    with pytest.raises(CaseError, match="待核实或核实中"):
        step(case(state="handled", feedback="x"), "rule_on_spot", now=at(27, 16), note="x")
    with pytest.raises(CaseError, match="本窗口"):
        step(case(), "rule_on_spot", OTHER, now=at(27, 16), note="x")
    with pytest.raises(CaseError, match="工作人员"):
        step(case(), "rule_on_spot", SYSTEM, now=at(27, 16), note="x")
    c, _ = step(case(state="verifying"), "rule_on_spot", BOSS, now=at(27, 16), note="督办人员裁定")
    assert c.state == "closed"


# ------------------------------------------------------------------ 交办

def test_assigning_keeps_the_deadline_by_default_and_writes_a_table_11_row():
    now = at(30, 9)
    c, ch = step(case(state="verifying"), "assign", BOSS, now=now, department="bdc",
                 content="请核实窗口拖延原因并答复群众", warning_code="Y1")
    assert c.state == "verifying" and c.due_at == DUE and c.assigned_department == "bdc"
    assert ch.extra["supervision"] == {"kind": "assign", "content": "请核实窗口拖延原因并答复群众",
                                       "issued_at": now, "department": "bdc", "warning_code": "Y1",
                                       "due_at": DUE}
    assert "due_alerted" not in ch.updates and ch.note == "交办bdc：请核实窗口拖延原因并答复群众"


def test_a_later_assign_deadline_is_coordination_time_up_to_seven_working_days():
    later = datetime(2026, 12, 4, 17, 30, tzinfo=CST)
    c, ch = step(case(), "assign", BOSS, now=at(30), department="zjj", content="需住建部门协调",
                 deadline=later)
    assert c.state == "coordinating" and c.due_at == later
    assert ch.updates["due_alerted"] is False and ch.updates["escalated"] is False
    c, _ = step(case(), "assign", BOSS, now=at(30), department="zjj", content="x", deadline=COORD)
    assert c.due_at == COORD
    with pytest.raises(CaseError, match="7 个工作日"):
        step(case(), "assign", BOSS, now=at(30), department="zjj", content="x",
             deadline=COORD + timedelta(minutes=1))


def test_an_assign_deadline_cannot_be_earlier_than_the_current_one_or_in_the_past():
    with pytest.raises(CaseError, match="不能早于"):
        step(case(), "assign", BOSS, now=at(30), department="d", content="x",
             deadline=DUE - timedelta(hours=1))
    # an overdue case: the default keeps the passed deadline, a new one must lie ahead
    overdue = at(2, 9)
    c, _ = step(case(), "assign", BOSS, now=overdue, department="d", content="超期交办")
    assert c.due_at == DUE
    with pytest.raises(CaseError, match="晚于现在"):
        step(case(), "assign", BOSS, now=at(3, 9), department="d", content="x",
             deadline=at(2, 17))
    assert assign_deadline(case(), None, now=overdue, coordination_due=COORD) == DUE
    with pytest.raises(ValueError, match="timezone-aware"):
        assign_deadline(case(), datetime(2026, 12, 3), now=overdue, coordination_due=COORD)


def test_only_a_supervisor_assigns_a_running_case_to_a_named_department():
    with pytest.raises(CaseError, match="督办人员"):
        step(case(), "assign", HANDLER, department="d", content="x")
    with pytest.raises(CaseError, match="责任部门"):
        step(case(), "assign", BOSS, department="  ", content="x")
    with pytest.raises(CaseError, match="交办内容"):
        step(case(), "assign", BOSS, department="d", content="")
    with pytest.raises(CaseError, match="不需要交办"):
        step(case(state="handled", feedback="x"), "assign", BOSS, department="d", content="x")
    with pytest.raises(CaseError, match="预警类型代码"):
        step(case(), "assign", BOSS, department="d", content="x", warning_code="红 牌")


def test_a_case_can_be_handed_on_to_another_department():
    c, _ = step(case(), "assign", BOSS, department="bdc", content="首次交办")
    c, ch = step(c, "assign", BOSS, department="zjj", content="改由住建局办理")
    assert c.assigned_department == "zjj" and ch.extra["supervision"]["department"] == "zjj"


# ------------------------------------------------------------------ 督办

def test_supervision_opens_on_the_due_day_and_stays_open_when_overdue():
    assert not supervision_open(DUE, at(30, 23, 59))
    assert supervision_open(DUE, at(1, 0, 0))
    assert supervision_open(DUE, at(5, 9))
    with pytest.raises(CaseError, match="未临近期限"):
        step(case(), "supervise", BOSS, now=at(30, 17), content="请加快")


def test_each_supervision_notice_is_recorded_with_the_responsible_department():
    c = case(state="verifying")
    c, ch = step(c, "supervise", BOSS, now=at(1, 9), content="今日到期，请于17:30前答复")
    assert c.supervision_count == 1 and ch.updates["last_supervised_at"] == at(1, 9)
    assert ch.extra["supervision"]["department"] == "bdc"                 # the window's
    c, _ = step(c, "assign", BOSS, now=at(1, 10), department="zjj", content="交办住建局")
    c, ch = step(c, "supervise", SYSTEM, now=at(2, 9), content="超期未反馈，自动督办")
    assert c.supervision_count == 2 and ch.extra["supervision"]["department"] == "zjj"
    assert set(ch.extra["supervision"]) >= {"content", "issued_at", "department", "warning_code"}


def test_only_the_center_supervises_and_only_cases_still_running():
    with pytest.raises(CaseError, match="督办人员"):
        step(case(), "supervise", HANDLER, now=at(2), content="x")
    with pytest.raises(CaseError, match="不需要督办"):
        step(case(state="handled", feedback="x"), "supervise", BOSS, now=at(2), content="x")
    with pytest.raises(CaseError, match="督办内容"):
        step(case(), "supervise", BOSS, now=at(2), content=None)


def test_deadlines_follow_a_clock_across_assign_and_supervise():
    """The clock moves; what is allowed moves with it (no wall clock involved)."""
    clock = [at(27, 16)]
    c = case()
    assert "supervise" not in available(c, BOSS, now=clock[0], coordination_due=COORD)
    clock[0] = at(30, 10)
    c, _ = step(c, "assign", BOSS, now=clock[0], department="zjj", content="协调",
                deadline=datetime(2026, 12, 3, 17, 30, tzinfo=CST))
    assert c.state == "coordinating"
    clock[0] = at(2, 12)                                   # before the new due day
    assert "supervise" not in available(c, BOSS, now=clock[0], coordination_due=COORD)
    clock[0] = at(3, 8, 30)                                # the new due day
    assert "supervise" in available(c, BOSS, now=clock[0], coordination_due=COORD)
    c, _ = step(c, "close", HANDLER, now=at(3, 17, 0), feedback="协调完成并答复")
    assert c.state == "closed"


# ------------------------------------------------------------------ 整改 and 回复

def test_proposal_rectification_and_reply_with_when_the_citizen_was_told():
    c, ch = step(case(state="verifying"), "propose", note="约谈窗口人员，规范一次性告知")
    assert c.proposal == "约谈窗口人员，规范一次性告知" and ch.updates["proposed_at"] == at(30)
    c, ch = step(c, "rectify", note="已组织培训，制作告知清单")
    assert c.rectified_at == at(30) and ch.updates["rectification"] == "已组织培训，制作告知清单"
    told = at(30, 9, 15)
    c, ch = step(c, "feedback", now=at(30, 11), feedback="电话告知群众整改情况", told_at=told)
    assert c.state == "handled" and ch.updates["reply_told_at"] == told
    assert ch.updates["handled_at"] == at(30, 11)         # on time counts from the entry, not the claim


def test_the_time_told_cannot_be_in_the_future_or_before_the_evaluation():
    with pytest.raises(CaseError, match="不能晚于现在"):
        step(case(state="verifying"), "feedback", feedback="x", told_at=at(30, 12), now=at(30, 11))
    with pytest.raises(CaseError, match="不能早于评价时间"):
        step(case(state="verifying"), "feedback", feedback="x", told_at=VOTED - timedelta(minutes=1))
    _, ch = step(case(state="verifying"), "feedback", feedback="x")
    assert ch.updates["reply_told_at"] == at(30)


def test_closing_a_coordinated_case_records_when_the_citizen_was_told():
    _, ch = step(case(state="coordinating", due_at=COORD), "close", feedback="协调后办结",
                 told_at=at(30, 9))
    assert ch.updates["reply_told_at"] == at(30, 9) and ch.updates["on_time"] is True


def test_rectification_can_follow_the_reply_but_is_fixed_once_evaluated_again():
    c, _ = step(case(state="handled", feedback="已答复"), "rectify", note="整改完成")
    c, _ = step(c, "second_evaluation", SYSTEM, rating="satisfied")
    with pytest.raises(CaseError, match="不能再修改"):
        step(c, "rectify", note="改写")
    with pytest.raises(CaseError, match="拟办意见"):
        step(case(state="handled", feedback="x"), "propose", note="x")


# ------------------------------------------------------------------ 回访

def test_a_return_visit_records_method_time_and_satisfaction():
    when = at(30, 15)
    c, ch = step(case(state="handled", feedback="已答复"), "visit", BOSS, now=at(30, 16),
                 method="phone", at=when, satisfaction="basically_satisfied", note="认可整改")
    assert c.visited and ch.updates == {"visited": True, "visit_method": "phone", "visited_at": when,
                                        "visit_satisfaction": "basically_satisfied",
                                        "visit_note": "认可整改"}
    assert ch.note == "电话回访，群众基本满意：认可整改"


def test_an_unreached_visit_is_logged_and_changes_nothing():
    c0 = case(state="handled", feedback="x")
    c, ch = step(c0, "visit", BOSS, method="phone", reached=False)
    assert c == c0 and ch.updates == {} and "未联系上" in ch.note
    with pytest.raises(CaseError, match="满意度"):
        step(c0, "visit", BOSS, method="phone", reached=False, satisfaction="satisfied")


def test_visits_are_the_centers_after_the_reply_with_a_known_method_and_level():
    replied = case(state="handled", feedback="x")
    with pytest.raises(CaseError, match="督办人员"):
        step(replied, "visit", HANDLER, method="phone", satisfaction="satisfied")
    with pytest.raises(CaseError, match="请先答复"):
        step(case(state="verifying"), "visit", BOSS, method="phone", satisfaction="satisfied")
    with pytest.raises(CaseError, match="回访方式"):
        step(replied, "visit", BOSS, method="fax", satisfaction="satisfied")
    with pytest.raises(CaseError, match="满意度"):
        step(replied, "visit", BOSS, method="sms", satisfaction="very_satisfied")
    with pytest.raises(CaseError, match="不能晚于现在"):
        step(replied, "visit", BOSS, method="sms", satisfaction="satisfied", at=at(30, 11), now=at(30, 10))
    with pytest.raises(CaseError, match="不需要回访"):
        step(case(state="closed", appeal="upheld"), "visit", BOSS, method="phone", satisfaction="satisfied")
    c, _ = step(case(state="closed", feedback="x"), "visit", BOSS, method="on_site", satisfaction="satisfied")
    assert c.visited and c.state == "closed"               # a closed case can still be checked back


# ------------------------------------------------------------------ 二次评价

def test_a_second_evaluation_needs_rectification_and_happens_once():
    c = case(state="closed", feedback="x")
    assert second_evaluation_allowed(c) == "整改完成后才能进行二次评价"
    with pytest.raises(CaseError, match="整改完成后"):
        step(c, "second_evaluation", SYSTEM, rating="satisfied")
    c = case(state="closed", feedback="x", rectified_at=at(30))
    assert second_evaluation_allowed(c) is None
    c, ch = step(c, "second_evaluation", SYSTEM, rating="satisfied", record_id="r-2")
    assert c.second_evaluated and ch.updates["second_channel"] == "qr"
    assert ch.extra["second_evaluation"] == {"evaluation_no": 2, "rating": "satisfied", "scale": 3,
                                             "channel": "qr", "bad": False, "record_id": "r-2"}
    with pytest.raises(CaseError, match="已进行过二次评价"):
        step(c, "second_evaluation", BOSS, rating="satisfied")


def test_the_second_evaluation_comes_by_qr_or_the_visit_call_never_from_the_window():
    c = case(state="handled", feedback="x", rectified_at=at(30))
    _, ch = step(c, "second_evaluation", BOSS, rating="dissatisfied")
    assert ch.updates["second_channel"] == "phone" and ch.extra["second_evaluation"]["bad"] is True
    with pytest.raises(CaseError, match="二维码或回访电话"):
        step(c, "second_evaluation", HANDLER, rating="satisfied")
    with pytest.raises(CaseError, match="评价等级"):
        step(c, "second_evaluation", SYSTEM, rating="very_satisfied")            # not on the 3-level scale
    _, ch = step(c, "second_evaluation", SYSTEM, rating="very_satisfied", scale=5)
    assert ch.updates["second_rating"] == "very_satisfied"
    assert second_evaluation_allowed(case(appeal="upheld", rectified_at=at(30))).startswith("该评价经申诉")


# ------------------------------------------------------------------ 体制机制

def test_a_structural_cause_closes_the_case_and_opens_a_rectification_item():
    now = at(30, 14)
    target = datetime(2027, 3, 31, 17, 30, tzinfo=CST)
    c, ch = step(case(state="verifying"), "close_structural", BOSS, now=now,
                 note="系统需省级平台升级，已向群众说明", content="不动产登记与税务系统未打通", target_at=target)
    assert c.state == "closed" and c.feedback == "系统需省级平台升级，已向群众说明"
    assert ch.updates["structural"] is True and ch.updates["on_time"] is True
    assert ch.extra["rectification_item"] == {
        "state": "open", "cause": "不动产登记与税务系统未打通", "department": "bdc", "opened_at": now,
        "target_at": target, "result": None, "done_at": None}


def test_a_structural_close_keeps_an_earlier_reply_and_its_timeliness():
    late = DUE + timedelta(hours=1)
    replied = case(state="handled", feedback="已答复", handled_at=DUE - timedelta(hours=2))
    _, ch = step(replied, "close_structural", BOSS, now=late, note="属体制问题", content="跨部门流程")
    assert ch.updates["feedback"] == "已答复" and ch.updates["on_time"] is True
    assert "reply_told_at" not in ch.updates
    _, ch = step(case(state="coordinating", due_at=DUE), "close_structural", BOSS, now=late,
                 note="说明", content="原因")
    assert ch.updates["on_time"] is False


def test_only_a_supervisor_closes_for_a_structural_cause_with_both_texts():
    with pytest.raises(CaseError, match="督办人员"):
        step(case(), "close_structural", HANDLER, note="x", content="x")
    with pytest.raises(CaseError, match="解释说明"):
        step(case(), "close_structural", BOSS, note="", content="x")
    with pytest.raises(CaseError, match="体制机制问题"):
        step(case(), "close_structural", BOSS, note="x", content="")
    with pytest.raises(CaseError, match="完成期限"):
        step(case(), "close_structural", BOSS, note="x", content="x", target_at=at(29))
    with pytest.raises(CaseError, match="已办结"):
        step(case(state="closed"), "close_structural", BOSS, note="x", content="x")


# ------------------------------------------------------------------ the whole way

def test_assign_supervise_rectify_reply_visit_second_evaluation_close():
    c = case()
    c, _ = step(c, "verify", HANDLER, now=at(30, 9))
    c, _ = step(c, "assign", BOSS, now=at(30, 10), department="bdc", content="核实并整改")
    c, _ = step(c, "supervise", BOSS, now=at(1, 9), content="今日到期")
    c, _ = step(c, "propose", HANDLER, now=at(1, 10), note="补充告知清单")
    c, _ = step(c, "rectify", HANDLER, now=at(1, 11), note="告知清单已上墙")
    c, _ = step(c, "feedback", HANDLER, now=at(1, 12), feedback="已电话告知群众")
    c, _ = step(c, "visit", BOSS, now=at(1, 15), method="phone", satisfaction="satisfied")
    c, _ = step(c, "second_evaluation", BOSS, now=at(1, 15), rating="satisfied")
    c, ch = step(c, "close", HANDLER, now=at(1, 16))
    assert c.state == "closed" and ch.updates["on_time"] is True
    assert c.visited and c.second_evaluated and c.supervision_count == 1


def test_available_actions_follow_state_role_and_clock():
    now = at(27, 16)
    assert available(case(), HANDLER, now=now) == ["verify", "coordinate", "appeal", "rule_on_spot",
                                                   "propose", "rectify"]
    assert available(case(), BOSS, now=at(1, 9)) == ["verify", "coordinate", "appeal", "assign",
                                                     "supervise", "propose", "rectify", "close_structural"]
    assert available(case(state="closed", feedback="x", rectified_at=now), BOSS, now=now) == [
        "visit", "second_evaluation"]
    assert available(case(state="closed", feedback="x", rectified_at=now), SYSTEM, now=now) == [
        "second_evaluation"]
    assert available(case(), OTHER, now=now) == []


def test_an_unknown_action_is_refused():
    with pytest.raises(CaseError, match="未知操作"):
        step(case(), "dance", BOSS)


# ------------------------------------------------------------------ the rectification list

def item(**kw):
    return ItemView(**{"state": "open", "department": "bdc", **kw})


def test_a_rectification_item_goes_open_in_progress_done():
    target = datetime(2027, 3, 31, 17, 30, tzinfo=CST)
    ch = item_apply(item(), "start", BOSS, now=at(30), note="与税务局共建接口", target_at=target)
    assert ch.to_state == "in_progress" and ch.updates["target_at"] == target and ch.updates["plan"]
    i = ItemView("in_progress", "bdc", target)
    assert item_apply(i, "progress", BOSS, now=at(30), note="接口联调中").to_state == "in_progress"
    ch = item_apply(i, "finish", BOSS, now=at(30), note="接口上线")
    assert ch.to_state == "done" and ch.updates["result"] == "接口上线" and ch.updates["done_at"] == at(30)
    ch = item_apply(ItemView("done", "bdc"), "reopen", BOSS, now=at(30), note="问题复发")
    assert ch.to_state == "in_progress" and ch.updates["done_at"] is None


def test_rectification_items_refuse_wrong_steps():
    with pytest.raises(CaseError, match="督办人员"):
        item_apply(item(), "start", HANDLER, now=at(30), note="x")
    with pytest.raises(CaseError, match="整改方案"):
        item_apply(item(), "start", BOSS, now=at(30), note="")
    with pytest.raises(CaseError, match="整改中"):
        item_apply(item(), "progress", BOSS, now=at(30), note="x")
    with pytest.raises(CaseError, match="已完成"):
        item_apply(item(state="done"), "finish", BOSS, now=at(30), note="x")
    with pytest.raises(CaseError, match="只有已完成"):
        item_apply(item(), "reopen", BOSS, now=at(30), note="x")
    with pytest.raises(CaseError, match="完成期限"):
        item_apply(item(), "start", BOSS, now=at(30), note="x", target_at=at(29))
    with pytest.raises(CaseError, match="未知操作"):
        item_apply(item(), "skip", BOSS, now=at(30))


def test_an_item_past_its_target_and_not_done_is_overdue():
    t = at(5, 17)
    assert item_overdue(ItemView("in_progress", "bdc", t), at(6))
    assert not item_overdue(ItemView("in_progress", "bdc", t), at(5, 16))
    assert not item_overdue(ItemView("done", "bdc", t), at(6))
    assert not item_overdue(ItemView("open", "bdc"), at(6))


ITEM_STEPS = st.lists(st.tuples(st.sampled_from(list(handling.ITEM_ACTIONS) + ["bogus"]),
                                st.sampled_from(["", "说明"])), max_size=30)


@given(ITEM_STEPS)
def test_items_only_move_along_their_machine(steps):
    allowed = {("open", "start"): "in_progress", ("in_progress", "progress"): "in_progress",
               ("open", "finish"): "done", ("in_progress", "finish"): "done",
               ("done", "reopen"): "in_progress"}
    i = item()
    for action, note in steps:
        try:
            ch = item_apply(i, action, BOSS, now=at(30), note=note)
        except CaseError:
            assert (i.state, action) not in allowed or not note
            continue
        assert note and allowed[(i.state, action)] == ch.to_state
        i = ItemView(ch.to_state, ch.updates.get("department", i.department), i.target_at)
        assert i.state in handling.ITEM_STATES


# ------------------------------------------------------------------ the state machine, at random

def mostly(good, *bad):
    """Valid input three times in four, so sequences get deep into the machine."""
    return st.sampled_from([good, good, good, *bad])


ACTORS = st.sampled_from([HANDLER, HANDLER, BOSS, BOSS, SYSTEM, OTHER])
INPUTS = st.fixed_dictionaries({
    "note": mostly("说明", ""), "feedback": mostly("已答复", ""),
    "claim": mostly("mistaken", "bogus"), "department": mostly("zjj", ""),
    "content": mostly("内容", ""), "method": mostly("phone", "fax"),
    "satisfaction": mostly("satisfied", "dissatisfied", None),
    "rating": mostly("satisfied", "dissatisfied", "x"), "reached": mostly(True, False),
    "deadline": st.sampled_from([None, DUE, datetime(2026, 12, 4, 17, 30, tzinfo=CST), COORD,
                                 COORD + timedelta(days=1)]),
})
# (pick, guided, actor, inputs, hours): a guided step picks among the actions
# `available` offers, so sequences reach deep states; the others try anything.
STEPS = st.lists(st.tuples(st.integers(0, 99), mostly(True, False), ACTORS, INPUTS,
                           st.integers(0, 14)), max_size=30)
ANY_ACTION = handling.ACTIONS + ("bogus",)


def check_invariants(c, history):
    assert c.state in STATE_LABELS
    assert c.appeal in ("none", "pending", "upheld", "rejected")
    assert (c.state == "closed") == (c.closed_at is not None)
    if c.state == "handled" or (c.state == "closed" and c.appeal != "upheld"):
        assert c.feedback
    assert not c.second_evaluated or c.rectified_at is not None
    assert not c.visited or c.feedback
    assert DUE <= c.due_at <= COORD                         # 2 to 7 working days, never shorter
    assert c.supervision_count == history.count("supervise")
    assert history.count("second_evaluation") <= 1


@settings(max_examples=500, deadline=None)
@given(STEPS, st.integers(0, 150))
def test_random_action_sequences_never_reach_an_illegal_state(steps, start_hours):
    c = case()
    now = at(27, 15, 30) + timedelta(hours=start_hours)    # on the vote's day or days later
    done: list[str] = []
    closed_once = False
    for pick, guided, actor, inputs, hours in steps:
        now = now + timedelta(hours=hours)                  # the clock only moves forward
        offered = available(c, actor, now=now, coordination_due=COORD) if guided else []
        action = offered[pick % len(offered)] if offered else ANY_ACTION[pick % len(ANY_ACTION)]
        before = c
        try:
            ch = apply(c, action, actor, now=now, coordination_due=COORD, **inputs)
        except CaseError as e:
            assert str(e)                                   # a refusal always says why
            continue
        c = advance(c, ch)
        done.append(action)
        event(f"did {action}")
        assert ch.from_state == before.state and c.state == ch.to_state
        if closed_once:
            # a closed case only takes the checks that come after closing
            assert action in ("visit", "second_evaluation") and c.state == "closed"
        closed_once = closed_once or c.state == "closed"
        if action == "second_evaluation":
            assert before.rectified_at is not None and not before.second_evaluated
        if action in ("assign", "supervise"):
            assert actor.role in ("supervisor", "system")
        if action == "supervise":
            assert now.date() >= before.due_at.date()          # near due (its day) or overdue
        assert c.due_at >= before.due_at                        # a deadline is never shortened
        if actor is OTHER:
            raise AssertionError("a handler of another window changed the case")
        check_invariants(c, done)
