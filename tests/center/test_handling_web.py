"""The handling mechanism on the dashboard (center/web/cases.py,
rectification.py, directory.py, export.py): forms for every action the
rules allow, with CSRF; the rule's own refusal shown on the page with what
was typed kept; supervisor-only pages; the directory's names and 未登记 on
the case list and the statistics; the case and 交办督办 exports with
formula-safe cells and the records export's 评价次数 2 row."""
import csv
import io
import re
from datetime import datetime

import pytest
from fastapi.testclient import TestClient

from center import casework, directory_db
from center.api import create_app
from center.case_export import CASE_FIELDS, SUPERVISION_FIELDS
from center.cases import Actor
from center.directory import Directory, diff, parse_toml
from center.ingest import ingest
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import Clock, make_center, make_vote
from tests.support.paths import CONFIG
from tests.support.web import csrf_of, login

VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)        # Friday; due Tue 12-01 17:30
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)
BOSS = Actor("chen", "supervisor")
HANDLER = Actor("wang", "handler", "03")


@pytest.fixture
def center(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW))
    for w in ("03", "07"):
        c.add_device(f"tab-{w}", "taojiang", w)
    c.add_user("wang", "handler", "wang-pass-1", "03")
    c.add_user("chen", "supervisor", "chen-pass-1")
    ingest(c, "tab-03", [make_vote("tab-03", 1, bad=True, at=VOTED), make_vote("tab-03", 2, at=VOTED)])
    ingest(c, "tab-07", [make_vote("tab-07", 1, bad=True, at=VOTED, window_id="07", staff_id="77",
                                   staff_name="钱八")])
    yield c
    c.engine.dispose()


@pytest.fixture
def app(center):
    return create_app(center)


def with_directory(center) -> None:
    d = parse_toml((CONFIG / "directory.example.toml").read_text(encoding="utf-8"))
    with center.engine.begin() as conn:
        directory_db.write(conn, diff(Directory(), d, replace=True))


def act(cl: TestClient, case_id: int, **data):
    token = csrf_of(cl.get(f"/cases/{case_id}").text)
    return cl.post(f"/cases/{case_id}/action", data={"csrf": token, **data}, follow_redirects=False)


def forms(page: str) -> list[str]:
    return re.findall(r'id="form-([a-z_]+)"', page)


def test_each_side_is_offered_the_forms_its_role_allows(app):
    handler = login(app, "wang", "wang-pass-1").get("/cases/1").text
    assert forms(handler) == ["verify", "propose", "rectify", "coordinate", "appeal"]
    assert 'id="department">不动产登记</dd>' in handler          # no directory yet: the config's
    assert "窗口办理" in handler and "中心督办" not in handler
    boss = login(app, "chen", "chen-pass-1").get("/cases/1").text
    assert forms(boss) == ["verify", "propose", "rectify", "coordinate", "appeal", "assign",
                           "close_structural"]
    assert "交办内容" in boss and "监察预警类型代码" in boss and "向群众的解释说明" in boss
    assert "不填则保持 2026-12-01 17:30；延后最晚至 2026-12-08 17:30" in boss


def test_assign_then_supervise_through_the_forms_show_the_table_11_rows(app, center):
    cl = login(app, "chen", "chen-pass-1")
    r = act(cl, 1, action="assign", department="县不动产登记中心", content="请核实并答复群众",
            warning_code="YJ01", deadline="")
    assert r.status_code == 303
    page = cl.get("/cases/1").text
    assert 'id="assigned">县不动产登记中心（2026-11-30 10:00）' in page
    assert "<td>交办</td><td>请核实并答复群众</td><td>2026-11-30 10:00</td><td>县不动产登记中心</td><td>YJ01</td>" in page
    assert "supervise" not in forms(page)                    # the deadline is tomorrow
    center.clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=DEFAULT_TZ)
    cl = login(app, "chen", "chen-pass-1")                 # the session ended overnight
    page = cl.get("/cases/1").text
    assert "supervise" in forms(page)
    assert act(cl, 1, action="supervise", content="今日到期，请抓紧", department="").status_code == 303
    page = cl.get("/cases/1").text
    assert 'id="supervised">1 次，最近 2026-12-01 09:00' in page
    assert "<td>督办</td><td>今日到期，请抓紧</td><td>2026-12-01 09:00</td><td>县不动产登记中心</td>" in page
    assert "<td>chen</td><td>督办</td>" in page              # the log: who, what


def test_a_refusal_shows_the_rules_message_and_keeps_what_was_typed(app):
    cl = login(app, "chen", "chen-pass-1")
    r = act(cl, 1, action="assign", department="县住建局", content="需住建部门协调",
            deadline="2026-12-09T17:30")
    assert r.status_code == 422
    assert 'id="error">交办期限不能超过评价后 7 个工作日的协调办理期限' in r.text
    assert ">需住建部门协调</textarea>" in r.text and 'value="2026-12-09T17:30"' in r.text
    r = act(cl, 1, action="assign", department="县住建局", content="x", deadline="12/09 17:30")
    assert r.status_code == 422 and "交办期限格式应为 年-月-日 时:分" in r.text
    wang = login(app, "wang", "wang-pass-1")
    r = act(wang, 1, action="assign", department="县住建局", content="x")
    assert r.status_code == 422 and "交办须由中心督办人员操作" in r.text
    r = act(wang, 1, action="visit", method="phone", reached="maybe")
    assert r.status_code == 422 and "请选择是否联系上群众" in r.text


def test_a_form_without_the_sessions_csrf_token_changes_nothing(app):
    cl = login(app, "chen", "chen-pass-1")
    r = cl.post("/cases/1/action", data={"csrf": "forged", "action": "assign", "department": "d",
                                         "content": "x"})
    assert r.status_code == 403 and "未交办" in cl.get("/cases/1").text


def test_rectify_feedback_visit_second_evaluation_and_close_on_the_page(app, center):
    wang, chen = login(app, "wang", "wang-pass-1"), login(app, "chen", "chen-pass-1")
    assert act(wang, 1, action="verify").status_code == 303
    assert act(wang, 1, action="propose", note="调整叫号").status_code == 303
    assert act(wang, 1, action="rectify", note="已增设综合窗口").status_code == 303
    assert act(wang, 1, action="feedback", feedback="已告知整改结果", told_at="2026-11-30T09:30").status_code == 303
    assert "visit" not in forms(wang.get("/cases/1").text)  # the center checks back, not the window
    assert act(chen, 1, action="visit", method="phone", at="", reached="yes", satisfaction="satisfied",
               note="群众认可").status_code == 303
    assert act(chen, 1, action="second_evaluation", rating="satisfied").status_code == 303
    assert act(wang, 1, action="close").status_code == 303
    page = chen.get("/cases/1").text
    assert 'id="state">已办结' in page
    assert 'id="proposal">调整叫号' in page and 'id="rectification">已增设综合窗口' in page
    assert "已告知整改结果 <span class=\"muted\">（告知群众 2026-11-30 09:30）" in page
    assert 'id="visit">已回访：电话，2026-11-30 10:00，群众满意（群众认可）' in page
    assert "满意</span>（评价次数 2，电话，2026-11-30 10:00，记录人 chen）" in page
    assert forms(page) == ["visit"]                          # closed: a further call-back, nothing else


def test_ruling_on_the_spot_is_offered_on_the_evaluation_day_only(app, center):
    center.clock.now = datetime(2026, 11, 27, 16, 0, tzinfo=DEFAULT_TZ)
    cl = login(app, "wang", "wang-pass-1")
    assert "rule_on_spot" in forms(cl.get("/cases/1").text)
    assert act(cl, 1, action="rule_on_spot", note="当场解释，群众认可").status_code == 303
    page = cl.get("/cases/1").text
    assert 'id="state">已办结' in page and "当场裁定</span>" in page and "（按时）" in page


def test_structural_close_opens_an_item_on_the_supervisors_rectification_list(app, center):
    chen = login(app, "chen", "chen-pass-1")
    r = act(chen, 1, action="close_structural", note="已解释并代办", content="两个系统未打通",
            department="", target_at="2026-12-10")
    assert r.status_code == 303
    page = chen.get("/cases/1").text
    assert 'href="/rectification/1">整改重点 1</a>：两个系统未打通（待整改）' in page
    listing = chen.get("/rectification").text
    assert "两个系统未打通" in listing and "2026-12-10 17:30" in listing and "已超期" not in listing
    center.clock.now = datetime(2026, 12, 11, 9, 0, tzinfo=DEFAULT_TZ)
    chen = login(app, "chen", "chen-pass-1")
    listing = chen.get("/rectification").text
    assert 'id="overdue-count">1 项超期' in listing and '<tr class="overdue" data-item="1">' in listing
    item = chen.get("/rectification/1").text
    assert forms(item) == ["start", "finish"]
    token = csrf_of(item)
    r = chen.post("/rectification/1/action", data={"csrf": token, "action": "start", "note": ""})
    assert r.status_code == 422 and "请填写整改方案" in r.text
    r = chen.post("/rectification/1/action", data={"csrf": token, "action": "start", "note": "打通接口",
                                                   "target_at": "2026-12-31"}, follow_redirects=False)
    assert r.status_code == 303
    r = chen.post("/rectification/1/action", data={"csrf": token, "action": "finish", "note": "接口上线"})
    page = chen.get("/rectification/1").text
    assert 'id="item-state">已完成' in page and 'id="result">接口上线' in page
    assert [s for s in ("列入整改重点", "开始整改", "整改完成") if f"<td>{s}</td>" in page] == [
        "列入整改重点", "开始整改", "整改完成"]
    assert "两个系统未打通" in chen.get("/rectification?done=1").text


def test_the_supervisors_pages_refuse_a_handler(app):
    wang = login(app, "wang", "wang-pass-1")
    for path in ("/rectification", "/rectification/1", "/directory"):
        r = wang.get(path)
        assert r.status_code == 403 and "此页面仅供中心督办人员使用" in r.text
    token = csrf_of(wang.get("/cases").text)
    r = wang.post("/directory/save", data={"csrf": token, "kind": "department", "id": "x", "name": "x"})
    assert r.status_code == 403
    assert "整改重点" not in wang.get("/cases").text            # not in a handler's menu


def test_a_supervisor_edits_the_directory_and_unknown_windows_show_as_unregistered(app, center):
    chen = login(app, "chen", "chen-pass-1")
    page = chen.get("/directory").text
    assert 'id="not-in-use"' in page and "未登记（03）" in page and "未登记（07）" in page
    token = csrf_of(page)

    def save(**data):
        return chen.post("/directory/save", data={"csrf": token, **data}, follow_redirects=False)
    r = save(kind="window", id="03", name="不动产窗口", parent="bdc")
    assert r.status_code == 422 and "所属部门 bdc 不在目录中" in r.text and 'value="不动产窗口"' in r.text
    assert save(kind="department", id="bdc", name="县不动产登记中心").status_code == 303
    r = save(kind="window", id="03", name="不动产窗口", parent="bdc")
    assert r.headers["location"] == "/directory?saved=window:03"
    assert "已保存窗口 03" in chen.get(r.headers["location"]).text
    r = save(kind="window", id="0 3", name="x", parent="bdc")
    assert r.status_code == 422 and "只能包含字母、数字和 . _ -" in r.text
    r = chen.post("/directory/delete", data={"csrf": token, "kind": "department", "id": "bdc"})
    assert r.status_code == 422 and "部门 bdc 下还有窗口 03，请先移走或删除它们" in r.text
    # the case list and the statistics now use the directory
    cases = chen.get("/cases").text
    assert '<td class="window">03 不动产窗口</td>' in cases and '<td class="window">未登记（07）</td>' in cases
    assert '<td class="staff">未登记（1024 李明）</td>' in cases
    stats = chen.get("/stats?start=2026-11-01&end=2026-11-30&by=department").text
    assert "<td>县不动产登记中心</td><td>2</td>" in stats
    assert '<tr class="unregistered"><td>未登记（07）</td><td>1</td>' in stats
    assert "deleted=window" in chen.post("/directory/delete", data={"csrf": token, "kind": "window", "id": "03"},
                                          follow_redirects=False).headers["location"]
    assert "未登记（03）" in chen.get("/directory").text


def read_csv(r) -> list[dict]:
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


def test_the_case_export_carries_the_handling_fields_formula_safe(app, center):
    with_directory(center)
    casework.act(center, 1, "verify", HANDLER)
    casework.act(center, 1, "assign", BOSS, department="=县住建局", content="+请协调")
    casework.act(center, 1, "propose", HANDLER, note="-约谈")
    casework.act(center, 1, "rectify", HANDLER, note="@已整改")
    casework.act(center, 1, "feedback", HANDLER, feedback="已告知")
    casework.act(center, 1, "visit", BOSS, method="sms", reached=True, satisfaction="dissatisfied")
    casework.act(center, 1, "second_evaluation", BOSS, rating="basically_satisfied")
    chen = login(app, "chen", "chen-pass-1")
    r = chen.get("/export/cases.csv?start=2026-11-01&end=2026-11-30")
    rows = read_csv(r)
    assert list(rows[0]) == list(CASE_FIELDS)
    first = next(x for x in rows if x["工单编号"] == "1")
    assert (first["部门"], first["窗口"], first["工作人员"]) == ("县不动产登记中心", "03 不动产登记窗口", "1024 张三")
    assert (first["责任部门"], first["拟办意见"], first["整改结果"]) == ("'=县住建局", "'-约谈", "'@已整改")
    assert (first["回复结果"], first["是否回复"], first["是否回访"]) == ("已告知", "是", "是")
    assert first["回访信息"] == "短信，2026-11-30 10:00，群众不满意"
    assert (first["二次评价"], first["二次评价渠道"]) == ("基本满意", "电话")
    other = next(x for x in rows if x["工单编号"] == "2")
    assert (other["窗口"], other["是否回访"], other["回访信息"]) == ("未登记（07）", "否", "")
    notices = read_csv(chen.get("/export/supervisions.csv?start=2026-11-01&end=2026-11-30"))
    assert list(notices[0]) == list(SUPERVISION_FIELDS)
    assert [(n["类别"], n["督办内容"], n["责任部门"]) for n in notices] == [("交办", "'+请协调", "'=县住建局")]
    # a handler exports only the own window's cases
    wang = login(app, "wang", "wang-pass-1")
    assert [x["工单编号"] for x in read_csv(wang.get("/export/cases.csv?start=2026-11-01&end=2026-11-30"))] == ["1"]
    # the records export: the first evaluation, and the second as a row of its own (评价次数 2)
    recs = read_csv(chen.get("/export.csv?start=2026-11-01&end=2026-11-30"))
    assert [x["评价次数"] for x in recs] == ["1", "1", "1", "2"]
    first_rec = next(x for x in recs if x["seq"] == "1" and x["window_id"] == "03")
    second = recs[-1]
    assert (second["办件编号"], second["window_id"], second["department"]) == (
        first_rec["办件编号"], "03", "县不动产登记中心")
    assert (second["评价渠道"], second["满意度"], second["满意度代码"], second["评价时间"]) == (
        "电话", "基本满意", "3", "20261130T100000")
    assert second["first_record_id"] == first_rec["id"] and first_rec["first_record_id"] == ""
