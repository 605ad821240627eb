"""The handling mechanism in the database (center/casework.py with
center/handling.py, center/rectification.py), on SQLite and PostgreSQL with
a controllable clock: 当场裁定, 交办 and 督办 with their GB/T 39046 table 11
rows and deadlines, 拟办意见, 整改结果, 回复结果, 回访, 二次评价 (a row of
its own, 评价次数 2), 体制机制 and the rectification list; overdue cases,
assigned or supervised, still escalate and the escalation is a 督办 too."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from center import casework, directory_db, rectification
from center.cases import Actor, CaseError
from center.db import (
    alerts, case_log, cases, rectification_items, rectification_log, second_evaluations, supervisions,
)
from center.directory import Directory, diff, parse_toml
from center.handling import item_overdue
from center.ingest import ingest
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import Clock, make_center, make_vote
from tests.support.paths import CONFIG

VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)        # a Friday
HANDLER = Actor("wang", "handler", "03")
BOSS = Actor("chen", "supervisor")


def at(day: int, hh: int, mm: int = 0, month: int = 12) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=DEFAULT_TZ)


def utc(t: datetime) -> datetime:
    """As the tables store it (naive UTC)."""
    return t.astimezone(DEFAULT_TZ).replace(tzinfo=None) - timedelta(hours=8)


DUE = at(1, 17, 30)              # Tue: 2 working days after Friday's vote
COORD = at(8, 17, 30)            # Tue: 7 working days


@pytest.fixture
def clock():
    return Clock(VOTED + timedelta(minutes=10))


@pytest.fixture
def center(db_url, tmp_path, clock):
    c = make_center(db_url, tmp_path, clock=clock)
    c.add_device("tab-03", "taojiang", "03")
    yield c
    c.engine.dispose()


def with_directory(center) -> None:
    """The shipped example: window 03 belongs to 县不动产登记中心 (bdc)."""
    d = parse_toml((CONFIG / "directory.example.toml").read_text(encoding="utf-8"))
    with center.engine.begin() as conn:
        directory_db.write(conn, diff(Directory(), d, replace=True))


def new_case(center, seq=1) -> int:
    ingest(center, "tab-03", [make_vote("tab-03", seq, bad=True, at=VOTED)])
    with center.engine.connect() as conn:
        return conn.execute(select(cases.c.id).order_by(cases.c.id.desc())).scalars().first()


def get(center, cid):
    with center.engine.connect() as conn:
        return conn.execute(select(cases).where(cases.c.id == cid)).one()


def rows(center, table, **where):
    with center.engine.connect() as conn:
        q = select(table).order_by(table.c.id)
        for k, v in where.items():
            q = q.where(table.c[k] == v)
        return conn.execute(q).all()


def log(center, cid):
    return [(r.actor, r.action, r.to_state) for r in rows(center, case_log, case_id=cid)]


# ------------------------------------------------------------------ 当场裁定

def test_a_ruling_on_the_spot_closes_the_case_the_same_day(center, clock):
    cid = new_case(center)
    clock.now = VOTED + timedelta(hours=1)
    casework.act(center, cid, "rule_on_spot", HANDLER, note="收费标准解释清楚，群众当场认可")
    c = get(center, cid)
    assert (c.state, c.ruled_on_spot, c.on_time, c.feedback) == ("closed", True, True,
                                                                 "收费标准解释清楚，群众当场认可")
    assert c.closed_at == c.handled_at == c.reply_told_at == utc(clock.now)
    assert log(center, cid)[-1] == ("wang", "rule_on_spot", "closed")


def test_a_ruling_on_the_spot_the_next_day_is_refused_and_changes_nothing(center, clock):
    cid = new_case(center)
    clock.now = at(28, 9, month=11)
    with pytest.raises(CaseError, match="评价当日"):
        casework.act(center, cid, "rule_on_spot", HANDLER, note="x")
    assert get(center, cid).state == "new" and [a for _, a, _ in log(center, cid)] == ["open"]


# ------------------------------------------------------------------ 交办 / 督办 and deadlines

def test_assign_with_a_later_deadline_is_coordination_time_and_escalates_at_the_new_deadline(center, clock):
    cid = new_case(center)
    clock.now = at(30, 9, month=11)
    casework.act(center, cid, "assign", BOSS, department="县住建局", content="请协调办理并答复群众",
                 deadline=at(4, 17, 30), warning_code="YJ01")
    c = get(center, cid)
    assert (c.state, c.assigned_department, c.due_at) == ("coordinating", "县住建局", utc(at(4, 17, 30)))
    [row] = rows(center, supervisions, case_id=cid)
    assert (row.kind, row.content, row.department, row.warning_code, row.actor) == (
        "assign", "请协调办理并答复群众", "县住建局", "YJ01", "chen")
    assert (row.issued_at, row.due_at) == (utc(clock.now), utc(at(4, 17, 30)))
    assert "办理期限延至 2026-12-04 17:30" in rows(center, case_log, case_id=cid)[-1].note
    clock.now = at(1, 17, 31)                      # the old 2-day deadline has passed: not overdue
    assert casework.check_deadlines(center) == {"due_today": 0, "escalate": 0}
    clock.now = at(4, 8, 30)
    assert casework.check_deadlines(center) == {"due_today": 1, "escalate": 0}
    clock.now = at(4, 17, 31)
    assert casework.check_deadlines(center) == {"due_today": 0, "escalate": 1}
    kinds = [(r.kind, r.actor, r.content) for r in rows(center, supervisions, case_id=cid)]
    assert kinds == [("assign", "chen", "请协调办理并答复群众"),
                     ("supervise", "系统", casework.AUTO_SUPERVISION)]
    # the system 督办 names the department the case was assigned to
    assert rows(center, supervisions, case_id=cid)[-1].department == "县住建局"
    assert get(center, cid).supervision_count == 1


def test_an_assign_deadline_beyond_seven_working_days_is_refused(center, clock):
    cid = new_case(center)
    clock.now = at(30, 9, month=11)
    with pytest.raises(CaseError, match="7 个工作日"):
        casework.act(center, cid, "assign", BOSS, department="县住建局", content="x",
                     deadline=COORD + timedelta(minutes=1))
    assert rows(center, supervisions) == [] and get(center, cid).assigned_department is None


def test_an_assigned_case_that_keeps_its_deadline_still_escalates_once(center, clock):
    cid = new_case(center)
    clock.now = at(30, 10, month=11)
    casework.act(center, cid, "verify", HANDLER)
    casework.act(center, cid, "assign", BOSS, department="县不动产登记中心", content="请当日核实")
    assert get(center, cid).state == "verifying" and get(center, cid).due_at == utc(DUE)
    clock.now = at(1, 17, 31)
    assert casework.check_deadlines(center)["escalate"] == 1
    clock.advance(hours=3)
    assert casework.check_deadlines(center)["escalate"] == 0
    assert [r.kind for r in rows(center, supervisions, case_id=cid)] == ["assign", "supervise"]
    assert get(center, cid).escalated is True


def test_supervise_is_open_from_the_due_day_names_the_directory_department_and_counts(center, clock):
    with_directory(center)
    cid = new_case(center)
    clock.now = at(30, 16, month=11)               # Monday: the deadline is tomorrow
    with pytest.raises(CaseError, match="未临近期限"):
        casework.act(center, cid, "supervise", BOSS, content="请抓紧办理")
    clock.now = at(1, 9)                           # Tuesday, the due day
    casework.act(center, cid, "supervise", BOSS, content="今日到期，请抓紧办理")
    clock.now = at(1, 15)
    casework.act(center, cid, "supervise", BOSS, content="再次督办", warning_code="Y2")
    notices = rows(center, supervisions, case_id=cid)
    # no 交办: the window's department, by the directory (the config says 不动产登记)
    assert [(n.department, n.content, n.warning_code) for n in notices] == [
        ("县不动产登记中心", "今日到期，请抓紧办理", None), ("县不动产登记中心", "再次督办", "Y2")]
    c = get(center, cid)
    assert (c.supervision_count, c.last_supervised_at, c.state) == (2, utc(at(1, 15)), "new")
    clock.now = at(1, 17, 31)                      # supervised, still not answered: escalates
    assert casework.check_deadlines(center)["escalate"] == 1
    assert get(center, cid).supervision_count == 3
    with pytest.raises(CaseError, match="督办人员"):
        casework.act(center, cid, "supervise", HANDLER, content="x")


def test_a_handled_case_is_neither_supervised_nor_escalated(center, clock):
    cid = new_case(center)
    clock.now = at(1, 9)
    casework.act(center, cid, "verify", HANDLER)
    casework.act(center, cid, "feedback", HANDLER, feedback="已答复")
    with pytest.raises(CaseError, match="不需要督办"):
        casework.act(center, cid, "supervise", BOSS, content="x")
    clock.now = at(2, 9)
    assert casework.check_deadlines(center)["escalate"] == 0 and rows(center, supervisions) == []


# ------------------------------------------------------------------ 整改, 回复, 回访, 二次评价

def test_the_whole_handling_of_a_case_is_recorded_column_by_column(center, clock):
    cid = new_case(center)
    clock.now = at(30, 9, month=11)
    casework.act(center, cid, "verify", HANDLER)
    casework.act(center, cid, "propose", HANDLER, note="约谈窗口人员，调整叫号规则")
    clock.now = at(30, 15, month=11)
    casework.act(center, cid, "rectify", HANDLER, note="已增设一个综合窗口，高峰期分流")
    clock.now = at(1, 10)
    told = at(30, 16, month=11)                    # the handler phoned yesterday, types it in today
    casework.act(center, cid, "feedback", HANDLER, feedback="已电话告知整改措施并致歉", told_at=told)
    with pytest.raises(CaseError, match="回访"):
        casework.act(center, cid, "visit", HANDLER, method="phone", satisfaction="satisfied")
    casework.act(center, cid, "visit", BOSS, method="phone", reached=False, note="无人接听")
    assert get(center, cid).visited is False       # an unreached call: the log only
    clock.now = at(1, 11)
    casework.act(center, cid, "visit", BOSS, method="phone", at=at(1, 10, 40), reached=True,
                 satisfaction="basically_satisfied", note="希望再快一些")
    casework.act(center, cid, "second_evaluation", BOSS, rating="satisfied", scale=3)
    with pytest.raises(CaseError, match="已进行过二次评价"):
        casework.act(center, cid, "second_evaluation", BOSS, rating="dissatisfied", scale=3)
    casework.act(center, cid, "close", HANDLER)
    c = get(center, cid)
    assert (c.state, c.on_time) == ("closed", True)
    assert (c.proposal, c.rectification, c.feedback) == ("约谈窗口人员，调整叫号规则",
                                                         "已增设一个综合窗口，高峰期分流", "已电话告知整改措施并致歉")
    assert (c.rectified_at, c.reply_told_at, c.handled_at) == (utc(at(30, 15, month=11)), utc(told), utc(at(1, 10)))
    assert (c.visited, c.visit_method, c.visited_at, c.visit_satisfaction, c.visit_note) == (
        True, "phone", utc(at(1, 10, 40)), "basically_satisfied", "希望再快一些")
    assert (c.second_evaluated, c.second_rating, c.second_channel) == (True, "satisfied", "phone")
    [second] = rows(center, second_evaluations)
    assert (second.case_id, second.first_record_id, second.evaluation_no, second.scale) == (cid, c.record_id, 2, 3)
    assert (second.rating, second.satisfaction_code, second.bad, second.channel, second.actor) == (
        "satisfied", 2, False, "phone", "chen")
    assert [a for _, a, _ in log(center, cid)] == [
        "open", "verify", "propose", "rectify", "feedback", "visit", "visit", "second_evaluation", "close"]
    notes = [r.note for r in rows(center, case_log, case_id=cid)]
    assert "电话回访未联系上：无人接听" in notes and "二次评价：满意" in notes
    assert "告知群众 2026-11-30 16:00" in notes[4]


def test_a_told_at_in_the_future_or_before_the_evaluation_is_refused(center, clock):
    cid = new_case(center)
    clock.now = at(30, 9, month=11)
    casework.act(center, cid, "verify", HANDLER)
    with pytest.raises(CaseError, match="不能晚于现在"):
        casework.act(center, cid, "feedback", HANDLER, feedback="x", told_at=at(30, 10, month=11))
    with pytest.raises(CaseError, match="不能早于评价时间"):
        casework.act(center, cid, "feedback", HANDLER, feedback="x", told_at=VOTED - timedelta(minutes=1))
    assert get(center, cid).state == "verifying"


def test_a_second_evaluation_needs_the_rectification_and_a_bad_one_alerts_the_center(center, clock):
    cid = new_case(center)
    clock.now = at(30, 9, month=11)
    with pytest.raises(CaseError, match="整改完成后"):
        casework.act(center, cid, "second_evaluation", BOSS, rating="satisfied")
    casework.act(center, cid, "rectify", HANDLER, note="已整改")
    with pytest.raises(CaseError, match="二维码或回访电话"):
        casework.act(center, cid, "second_evaluation", HANDLER, rating="satisfied")
    casework.act(center, cid, "second_evaluation", BOSS, rating="dissatisfied")
    [second] = rows(center, second_evaluations)
    assert (second.bad, second.satisfaction_code) == (True, 4)
    kinds = [a.kind for a in rows(center, alerts, channel="dashboard")]
    assert kinds == ["new_case", "second_bad"]
    [alert] = rows(center, alerts, kind="second_bad")
    assert alert.payload["to"] == "supervisor" and alert.payload["title"] == "整改后二次评价仍不满意"


def test_an_upheld_appeal_allows_no_visit_and_no_second_evaluation(center, clock):
    cid = new_case(center)
    casework.act(center, cid, "rectify", HANDLER, note="已整改")
    casework.act(center, cid, "appeal", HANDLER, claim="mistaken", note="误触")
    casework.act(center, cid, "uphold", BOSS, note="属实")
    with pytest.raises(CaseError, match="申诉复核不计入"):
        casework.act(center, cid, "second_evaluation", BOSS, rating="satisfied")
    assert rows(center, second_evaluations) == []


# ------------------------------------------------------------------ 体制机制 and 整改重点

def test_a_structural_case_closes_and_its_rectification_item_is_tracked_to_done(center, clock):
    with_directory(center)
    cid = new_case(center)
    clock.now = at(30, 9, month=11)
    casework.act(center, cid, "close_structural", BOSS, note="系统限制，已向群众解释并提供代办",
                 content="不动产与税务系统未打通，需两次排队", target_at=at(30, 17, 30))
    c = get(center, cid)
    assert (c.state, c.structural, c.structural_note, c.on_time) == (
        "closed", True, "系统限制，已向群众解释并提供代办", True)
    assert c.feedback == "系统限制，已向群众解释并提供代办"
    [item] = rows(center, rectification_items)
    assert (item.case_id, item.state, item.cause, item.department, item.target_at) == (
        cid, "open", "不动产与税务系统未打通，需两次排队", "县不动产登记中心", utc(at(30, 17, 30)))
    iid = item.id
    with pytest.raises(CaseError, match="整改重点"):
        rectification.act(center, iid, "start", HANDLER, note="x")
    rectification.act(center, iid, "start", BOSS, note="与税务局联合开发接口")
    clock.now = at(15, 9)
    rectification.act(center, iid, "progress", BOSS, note="接口联调中")
    with pytest.raises(CaseError, match="已完成的条目"):
        rectification.act(center, iid, "reopen", BOSS, note="x")
    item = rows(center, rectification_items)[0]
    assert (item.state, item.plan, item.started_at) == ("in_progress", "与税务局联合开发接口",
                                                        utc(at(30, 9, month=11)))
    assert not item_overdue(rectification.item_view(item), clock.now)     # due 12-30
    clock.now = at(29, 16)
    rectification.act(center, iid, "finish", BOSS, note="接口上线，一次排队办结")
    item = rows(center, rectification_items)[0]
    assert (item.state, item.result, item.done_at) == ("done", "接口上线，一次排队办结", utc(clock.now))
    assert [r.action for r in rows(center, rectification_log, item_id=iid)] == [
        "open", "start", "progress", "finish"]


def test_the_rectification_list_shows_overdue_and_reopens_a_fix_that_did_not_hold(center, clock):
    cid = new_case(center)
    clock.now = at(30, 9, month=11)
    casework.act(center, cid, "close_structural", BOSS, note="已解释", content="叫号系统不分窗口类型",
                 target_at=at(10, 17, 30))
    [item] = rows(center, rectification_items)
    assert not item_overdue(rectification.item_view(item), clock.now)
    clock.now = at(11, 9)
    assert item_overdue(rectification.item_view(item), clock.now)
    rectification.act(center, item.id, "finish", BOSS, note="叫号系统已升级")
    done = rows(center, rectification_items)[0]
    assert (done.state, done.result, done.done_at) == ("done", "叫号系统已升级", utc(clock.now))
    assert not item_overdue(rectification.item_view(done), clock.now)
    rectification.act(center, item.id, "reopen", BOSS, note="升级后仍然混排", target_at=at(31, 17, 30))
    again = rows(center, rectification_items)[0]
    assert (again.state, again.done_at, again.target_at) == ("in_progress", None, utc(at(31, 17, 30)))
    steps = [(r.actor, r.action, r.from_state, r.to_state, r.note)
             for r in rows(center, rectification_log, item_id=item.id)]
    assert steps == [("chen", "open", None, "open", "叫号系统不分窗口类型"),
                     ("chen", "finish", "open", "done", "叫号系统已升级"),
                     ("chen", "reopen", "done", "in_progress", "升级后仍然混排")]
