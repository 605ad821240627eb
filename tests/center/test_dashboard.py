"""The staff dashboard (center/web/, center/queries.py, center/export.py, center/stats.py)."""
import csv
import io
import json
import re
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hallcore.hallclock import DEFAULT_TZ
from center.api import create_app
from center.db import records
from center.export import STANDARD_FIELDS
from center.ingest import ingest
from center import charts
from center.stats import Row
from tests.support.center import Clock, make_center, make_vote
from tests.support.web import csrf_of, login

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)
VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)


@pytest.fixture
def center(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW))
    c.add_device("tab-03", "taojiang", "03")
    c.add_device("tab-05", "taojiang", "05")
    c.add_user("wang", "handler", "wang-pass-1", "03")
    c.add_user("zhao", "handler", "zhao-pass-1", "05")
    c.add_user("chen", "supervisor", "chen-pass-1")
    ingest(c, "tab-03", [make_vote("tab-03", 1, bad=True, at=VOTED),
                         make_vote("tab-03", 2, at=VOTED), make_vote("tab-03", 4, unrated=True, at=VOTED)])
    ingest(c, "tab-05", [make_vote("tab-05", 1, bad=True, at=VOTED, window_id="05",
                                   staff_name="赵强", matter=("M9", "社保卡申领"))])
    yield c
    c.engine.dispose()


@pytest.fixture
def app(center):
    return create_app(center)


def test_pages_need_login(app):
    cl = TestClient(app)
    for path in ("/cases", "/cases/1", "/stats", "/devices", "/export.csv"):
        r = cl.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login"


def test_wrong_password_is_refused(app):
    cl = TestClient(app)
    page = cl.get("/login")
    r = cl.post("/login", data={"name": "wang", "password": "nope", "csrf": csrf_of(page.text)})
    assert r.status_code == 401 and "用户名或密码错误" in r.text


def test_login_without_the_forms_csrf_token_is_refused(app):
    cl = TestClient(app)
    cl.get("/login")
    r = cl.post("/login", data={"name": "wang", "password": "wang-pass-1", "csrf": "forged"})
    assert r.status_code == 403 and "CSRF" in r.text


def test_handler_sees_only_own_windows_cases_with_masked_phone_and_countdown(app):
    cl = login(app, "wang", "wang-pass-1")
    page = cl.get("/cases").text
    assert "居民身份证换领" in page and "社保卡申领" not in page
    assert "138****5678" in page and "13812345678" not in page
    assert "2026-12-01 17:30" in page and "剩余 1天7小时30分" in page
    assert cl.get("/cases/2").status_code == 403            # window 05's case


def test_supervisor_sees_all_cases_and_overdue_in_red(center, app):
    center.clock.now = datetime(2026, 12, 2, 9, 0, tzinfo=DEFAULT_TZ)
    page = login(app, "chen", "chen-pass-1").get("/cases").text
    assert "社保卡申领" in page and "居民身份证换领" in page
    assert page.count('<tr class="overdue"') == 2 and "已超期 15小时30分" in page


def test_open_cases_page_refreshes_itself_but_a_case_page_with_forms_does_not(app):
    cl = login(app, "wang", "wang-pass-1")
    assert '<meta http-equiv="refresh" content="30">' in cl.get("/cases").text
    assert 'http-equiv="refresh"' not in cl.get("/cases/1").text   # would throw away typed feedback


def test_case_page_shows_the_full_phone_and_the_log(app):
    page = login(app, "wang", "wang-pass-1").get("/cases/1").text
    assert "13812345678" in page and "拖拉推诿" in page and "生成差评工单" in page


def test_handling_a_case_through_the_forms(app, center):
    cl = login(app, "wang", "wang-pass-1")
    page = cl.get("/cases/1").text
    token = csrf_of(page)
    r = cl.post("/cases/1/action", data={"action": "verify", "csrf": token}, follow_redirects=False)
    assert r.status_code == 303
    page = cl.post("/cases/1/action", data={"action": "feedback", "csrf": token, "feedback": ""}).text
    assert "请填写给群众的反馈内容" in page
    cl.post("/cases/1/action", data={"action": "feedback", "csrf": token, "feedback": "已回访致歉"})
    cl.post("/cases/1/action", data={"action": "close", "csrf": token})
    page = cl.get("/cases/1").text
    assert 'id="state">已办结' in page and "已回访致歉" in page and "按时" in page
    assert [a for a in ("开始核实", "记录反馈", "办结") if f"<td>{a}</td>" in page] == ["开始核实", "记录反馈", "办结"]


def test_action_without_csrf_token_changes_nothing(app):
    cl = login(app, "wang", "wang-pass-1")
    r = cl.post("/cases/1/action", data={"action": "verify", "csrf": "x"})
    assert r.status_code == 403
    assert 'id="state">待核实' in cl.get("/cases/1").text


def test_statistics_page_shows_rates_trend_and_groups(app):
    cl = login(app, "chen", "chen-pass-1")
    page = cl.get("/stats?start=2026-11-01&end=2026-11-30&by=window").text
    # 5 records: 4 rated (1 good, ... ) -> window 03: 1 good, 1 bad, 1 unrated; window 05: 1 bad
    assert 'id="good-rate">33.3%' in page and 'id="bad-rate">66.7%' in page
    assert 'id="participation">75.0%' in page
    trend = json.loads(re.search(r'<script type="application/json" id="trend-data">(.*?)</script>', page).group(1))
    assert len(trend["days"]) == 30 and trend["days"][0] == "2026-11-01"       # every day of the period
    day = trend["days"].index("2026-11-27")
    assert trend["good_rate"][day] == 33.3 and trend["bad_rate"][day] == 66.7 and trend["rated"][day] == 3
    assert trend["good_rate"][day - 1] is None and trend["rated"][day - 1] == 0
    for kind, src in (("trend", "trend-data"), ("distribution", "distribution-data"), ("ranking", "ranking-data")):
        assert f'<div class="hall-chart" data-kind="{kind}" data-src="{src}"' in page
    assert 'value="2026年11月1日"' in page and 'value="2026年11月30日"' in page      # Chinese date fields
    staff = cl.get("/stats?start=2026-11-01&end=2026-11-30&by=staff").text
    assert "赵强" in staff and "李明" in staff


def test_handler_statistics_cover_only_own_window(app):
    page = login(app, "wang", "wang-pass-1").get("/stats?start=2026-11-01&end=2026-11-30").text
    assert 'id="bad-rate">50.0%' in page and 'id="participation">66.7%' in page


def test_device_page_shows_heartbeat_backlog_and_gaps(app, center):
    center.heartbeat("tab-03", {"pending": 7, "quarantined": 1, "clock": NOW.isoformat(),
                                "version": "0.1.0", "quarantined_ids": ["abc"]})
    cl = login(app, "chen", "chen-pass-1")
    page = cl.get("/devices").text
    assert "tab-03" in page and "<td>7</td>" in page and 'href="/devices/tab-03/gaps">1<' in page
    gaps = cl.get("/devices/tab-03/gaps").text
    assert "<li>3</li>" in gaps


def test_device_page_shows_each_devices_chain_state(app, center):
    from center import audit
    from hallcore.chain import chain_hash
    cl = login(app, "chen", "chen-pass-1")
    center.heartbeat("tab-03", {"pending": 0, "clock": NOW.isoformat()})          # a schema-1 agent: no head
    with center.engine.connect() as conn:
        (only,) = [r.body for r in conn.execute(select(records.c.body).where(records.c.device_id == "tab-05"))]
    center.heartbeat("tab-05", {"pending": 0, "clock": NOW.isoformat(),
                                "chain_head": {"seq": 1, "hash": chain_hash(only)}})
    page = cl.get("/devices").text
    assert "未链接（schema 1 平板）" in page and "已链接，链头 1，尚未核验" in page
    list(audit.run(center.engine, NOW))
    page = cl.get("/devices").text
    assert "已链接，链头 1，核验通过" in page and page.count("核验于 2026-11-30 10:00") == 2
    # the tablet says seq 3 is its head and nothing is pending: 2 and 3 are lost
    center.heartbeat("tab-05", {"pending": 0, "clock": NOW.isoformat(), "chain_head": {"seq": 3, "hash": "e" * 64}})
    list(audit.run(center.engine, NOW, "tab-05"))
    page = cl.get("/devices").text
    assert '<a href="/devices/tab-05/gaps#chain">已链接，链头 3，核验发现 1 处问题</a>' in page
    gaps = cl.get("/devices/tab-05/gaps").text
    assert 'id="chain-findings"' in gaps and "<td>记录缺失</td><td>2–3</td>" in gaps


def test_export_csv_puts_the_national_fields_first(app):
    r = login(app, "chen", "chen-pass-1").get("/export.csv?start=2026-11-01&end=2026-11-30")
    assert r.status_code == 200 and "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert tuple(rows[0][:9]) == STANDARD_FIELDS
    assert len(rows) == 5
    bad = next(x for x in rows[1:] if x[5] == "不满意")
    assert bad[1] == "政务大厅平板电脑" and bad[2] == "匿名" and bad[3] == "20261127T150000"
    assert bad[6] == "4" and bad[8] == "430922" and "拖拉推诿" in bad[7]
    assert "13812345678" not in r.text and "138****5678" in r.text


def test_export_json_has_the_same_fields_and_masks_phones(app):
    r = login(app, "wang", "wang-pass-1").get("/export.json?start=2026-11-01&end=2026-11-30")
    data = json.loads(r.content)
    assert data["fields"][:9] == list(STANDARD_FIELDS)
    assert len(data["records"]) == 3                         # handler: own window only
    assert list(data["records"][0])[:9] == list(STANDARD_FIELDS)
    assert {x["满意度"] for x in data["records"]} == {"不满意", "满意", "未评价"}
    assert all(x["contact_phone"] in (None, "138****5678") for x in data["records"])


def test_the_trend_covers_every_day_of_the_period_with_gaps_as_none():
    day = datetime(2026, 11, 27).date()
    t = charts.trend([(day, Row((day,), "x", total=4, rated=4, good=3, bad=1)),
                      (day + timedelta(days=2), Row((day,), "y", total=2, rated=2, good=2, bad=0))],
                     day - timedelta(days=1), day + timedelta(days=3))
    assert t["days"] == ["2026-11-26", "2026-11-27", "2026-11-28", "2026-11-29", "2026-11-30"]
    assert t["labels"][0] == "11月26日"
    assert t["good_rate"] == [None, 75.0, None, 100.0, None]
    assert t["bad_rate"] == [None, 25.0, None, 0.0, None]
    assert t["rated"] == [0, 4, 0, 2, 0]


def test_period_dates_are_read_in_the_chinese_form_and_the_usual_others(app):
    cl = login(app, "chen", "chen-pass-1")
    for start, end in (("2026年11月1日", "2026年11月30日"), ("2026-11-01", "2026/11/30"),
                       ("2026.11.1", "20261130"), (" 2026 年 11 月 1 日 ", "2026年11月30日")):
        page = cl.get("/stats", params={"start": start, "end": end}).text
        assert 'id="good-rate">33.3%' in page and "2026年11月1日 至 2026年11月30日" in page, (start, end)
    r = cl.get("/stats", params={"start": "2026年2月30日"})
    assert r.status_code == 403 and "日期格式应为 2026年12月2日 或 2026-12-02" in r.text


def test_logout_needs_csrf_and_ends_the_session(app):
    cl = login(app, "wang", "wang-pass-1")
    token = csrf_of(cl.get("/cases").text)
    assert cl.post("/logout", data={"csrf": "x"}).status_code == 403
    cl.post("/logout", data={"csrf": token})
    assert cl.get("/cases", follow_redirects=False).status_code == 303
