"""综合点评 in the database and on the dashboard (center/commentwork.py,
center/web/comments.py), on SQLite and PostgreSQL: a 差评 entry opens a case
due 2 working days after it was received, alerts like a new case, is listed
with the other open cases and escalates when overdue; the case page shows
the entry instead of a record."""
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from hallcore.hallclock import DEFAULT_TZ, from_db
from center import casework, commentwork
from center.api import create_app
from center.cases import Actor
from center.comments import CommentCheck
from center.db import alerts, case_log, cases, comments
from center.ingest import ingest
from tests.support.center import Clock, make_center, make_vote
from tests.support.web import csrf_of, login

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)        # a Monday
CHEN = Actor("chen", "supervisor")
WANG = Actor("wang", "handler", "03")


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW))
    c.add_device("tab-03", "taojiang", "03")
    c.add_user("wang", "handler", "wang-pass-1", "03")
    c.add_user("zhao", "handler", "zhao-pass-1", "05")
    c.add_user("chen", "supervisor", "chen-pass-1")
    yield c
    c.engine.dispose()


def form(**kw):
    base = {"source": "box", "verdict": "bad", "text": "窗口工作人员态度生硬，让我跑了三次",
            "received_at": "2026-11-27T16:00", "window_id": "03", "matter_name": "不动产登记",
            "contact_phone": "13912345678"}
    base.update(kw)
    return base


def one(center, table, *where):
    with center.engine.connect() as conn:
        return conn.execute(select(table).where(*where)).one()


def test_a_bad_entry_opens_a_case_due_two_working_days_after_it_was_received(center):
    got = commentwork.enter(center, form(), CHEN)
    assert got.case_id is not None
    case = one(center, cases, cases.c.id == got.case_id)
    # received Friday 16:00 (the box opened then), typed in Monday: due Tuesday 17:30
    assert from_db(case.due_at) == datetime(2026, 12, 1, 17, 30, tzinfo=DEFAULT_TZ)
    assert from_db(case.voted_at) == datetime(2026, 11, 27, 16, 0, tzinfo=DEFAULT_TZ)
    assert (case.source, case.comment_id, case.record_id) == ("comment", got.comment_id, None)
    assert (case.window_id, case.department, case.state) == ("03", "不动产登记", "new")
    entry = one(center, comments, comments.c.id == got.comment_id)
    assert (entry.source, entry.verdict, entry.negative, entry.entered_by) == ("box", "bad", True, "chen")
    assert from_db(entry.entered_at) == NOW
    log = one(center, case_log, case_log.c.case_id == got.case_id)
    assert log.action == "open" and log.note.startswith("综合点评（意见箱）：窗口工作人员态度生硬")
    alert = one(center, alerts, alerts.c.case_id == got.case_id, alerts.c.channel == "dashboard")
    assert alert.kind == "new_case" and alert.payload["origin"] == "综合点评（意见箱）"
    assert alert.payload["comment_id"] == got.comment_id and alert.payload["window_id"] == "03"


@pytest.mark.parametrize("verdict", ["good", "neutral"])
def test_a_good_or_neutral_entry_is_stored_without_a_case(center, verdict):
    got = commentwork.enter(center, form(verdict=verdict), CHEN)
    assert got.case_id is None
    with center.engine.connect() as conn:
        assert conn.execute(select(cases)).all() == []
        assert conn.execute(select(comments.c.verdict)).scalars().all() == [verdict]


def test_a_bad_form_stores_nothing_and_names_the_fields(center):
    got = commentwork.enter(center, form(source="微信", text=" ", contact_phone="123"), CHEN)
    assert isinstance(got, CommentCheck) and got.clean is None
    assert set(got.errors) == {"source", "text", "contact_phone"}
    with center.engine.connect() as conn:
        assert conn.execute(select(comments)).all() == [] and conn.execute(select(cases)).all() == []


def test_a_handler_enters_for_their_own_window_only(center):
    got = commentwork.enter(center, form(window_id=""), WANG)
    assert one(center, comments, comments.c.id == got.comment_id).window_id == "03"
    refused = commentwork.enter(center, form(window_id="05"), WANG)
    assert refused.errors == {"window_id": "只能登记本窗口（03）的点评"}


def test_an_entry_without_a_window_is_a_case_for_the_supervisors_only(center):
    got = commentwork.enter(center, form(window_id="", department="", matter_name=""), CHEN)
    app = create_app(center)
    sup = login(app, "chen", "chen-pass-1")
    assert f'data-case="{got.case_id}"' in sup.get("/cases").text
    handler = login(app, "wang", "wang-pass-1")
    assert f'data-case="{got.case_id}"' not in handler.get("/cases").text
    assert handler.get(f"/cases/{got.case_id}").status_code == 403


def test_the_entrys_case_is_listed_with_the_tablets_cases(center):
    ingest(center, "tab-03", [make_vote("tab-03", 1, bad=True,
                                        at=datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ))])
    got = commentwork.enter(center, form(source="hotline"), CHEN)
    page = login(create_app(center), "wang", "wang-pass-1").get("/cases").text
    assert page.count("data-case=") == 2
    assert "综合点评（热线电话）" in page and "拖拉推诿" in page
    assert "139****5678" in page and "13912345678" not in page          # masked in the list
    assert f'<a href="/cases/{got.case_id}">' in page


def test_the_case_page_shows_the_entry_with_the_full_phone_and_can_be_handled(center):
    got = commentwork.enter(center, form(source="monitor"), CHEN)
    cl = login(create_app(center), "wang", "wang-pass-1")
    page = cl.get(f"/cases/{got.case_id}").text
    assert 'id="origin">综合点评（形象监督员）' in page
    assert "窗口工作人员态度生硬，让我跑了三次" in page and 'id="phone">13912345678' in page
    assert "2026-12-01 17:30" in page and "平板计算的期限" not in page
    token = csrf_of(page)
    for data in ({"action": "verify"}, {"action": "feedback", "feedback": "已电话联系群众致歉"},
                 {"action": "close"}):
        r = cl.post(f"/cases/{got.case_id}/action", data={**data, "csrf": token}, follow_redirects=False)
        assert r.status_code == 303
    case = one(center, cases, cases.c.id == got.case_id)
    assert case.state == "closed" and case.on_time is True


def test_an_upheld_appeal_on_an_entrys_case_closes_it_without_touching_the_scores(center):
    got = commentwork.enter(center, form(), CHEN)
    casework.act(center, got.case_id, "appeal", WANG, note="该群众当日未来办事", claim="malicious")
    casework.act(center, got.case_id, "uphold", CHEN, note="核实属实")
    assert one(center, cases, cases.c.id == got.case_id).state == "closed"


def test_an_overdue_entrys_case_gets_the_due_day_reminder_and_escalates(center):
    got = commentwork.enter(center, form(), CHEN)
    center.clock.now = datetime(2026, 12, 1, 9, 0, tzinfo=DEFAULT_TZ)
    assert casework.check_deadlines(center) == {"due_today": 1, "escalate": 0}
    center.clock.now = datetime(2026, 12, 1, 17, 31, tzinfo=DEFAULT_TZ)
    assert casework.check_deadlines(center) == {"due_today": 0, "escalate": 1}
    with center.engine.connect() as conn:
        kinds = conn.execute(select(alerts.c.kind, alerts.c.payload).where(
            alerts.c.case_id == got.case_id, alerts.c.channel == "dashboard")
            .order_by(alerts.c.id)).all()
    assert [k for k, _ in kinds] == ["new_case", "due_today", "escalate"]
    assert kinds[-1][1]["to"] == "supervisor" and kinds[-1][1]["origin"] == "综合点评（意见箱）"


# ------------------------------------------------------------------ the page

def test_entering_through_the_form_and_the_list_with_filters(center):
    cl = login(create_app(center), "chen", "chen-pass-1")
    token = csrf_of(cl.get("/comments").text)
    r = cl.post("/comments", data={**form(), "csrf": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/comments?entered=")
    page = cl.get(r.headers["location"]).text
    assert 'id="entered"' in page and "已生成差评工单" in page
    cl.post("/comments", data={**form(source="hotline", verdict="good", text="办事很快，点赞"),
                               "csrf": token})
    all_ = cl.get("/comments?start=2026-11-01&end=2026-11-30").text
    assert all_.count("data-comment=") == 2 and "139****5678" in all_ and "13912345678" not in all_
    bad = cl.get("/comments?start=2026-11-01&end=2026-11-30&verdict=bad").text
    assert bad.count("data-comment=") == 1 and "让我跑了三次" in bad
    hot = cl.get("/comments?start=2026-11-01&end=2026-11-30&source=hotline").text
    assert hot.count("data-comment=") == 1 and "点赞" in hot
    none = cl.get("/comments?start=2026-10-01&end=2026-10-31").text
    assert "data-comment=" not in none


def test_a_bad_form_is_shown_again_with_the_errors_and_what_was_typed(center):
    cl = login(create_app(center), "chen", "chen-pass-1")
    token = csrf_of(cl.get("/comments").text)
    r = cl.post("/comments", data={**form(received_at="2026-12-05T10:00", text="这段话要保留"),
                                   "csrf": token})
    assert r.status_code == 422
    assert "收到时间不能晚于现在" in r.text and "这段话要保留" in r.text
    with center.engine.connect() as conn:
        assert conn.execute(select(comments)).all() == []


def test_the_form_needs_the_sessions_csrf_token(center):
    cl = login(create_app(center), "chen", "chen-pass-1")
    assert cl.post("/comments", data={**form(), "csrf": "forged"}).status_code == 403
    with center.engine.connect() as conn:
        assert conn.execute(select(comments)).all() == []


def test_a_handler_lists_only_their_windows_entries(center):
    commentwork.enter(center, form(window_id="05", text="五号窗口的点评"), CHEN)
    commentwork.enter(center, form(text="三号窗口的点评"), CHEN)
    page = login(create_app(center), "wang", "wang-pass-1").get(
        "/comments?start=2026-11-01&end=2026-11-30").text
    assert "三号窗口的点评" in page and "五号窗口的点评" not in page
    assert TestClient(create_app(center)).get("/comments", follow_redirects=False).status_code == 303


def test_the_entrys_case_and_its_supervision_are_in_the_case_exports(center):
    import csv
    import io
    from datetime import date

    from center import case_export
    ingest(center, "tab-03", [make_vote("tab-03", 1, bad=True,
                                        at=datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ))])
    got = commentwork.enter(center, form(source="hotline"), CHEN)
    casework.act(center, got.case_id, "assign", CHEN, department="不动产登记中心", content="请核实并回复群众")
    period = (date(2026, 11, 1), date(2026, 11, 30))

    def rows(chunks):
        return list(csv.DictReader(io.StringIO("".join(chunks).lstrip("\ufeff"))))
    by_case = {r["工单编号"]: r for r in rows(case_export.cases_csv(center.engine, *period))}
    assert len(by_case) == 2
    entry = by_case[str(got.case_id)]
    assert entry["评价渠道"] == "综合点评（热线电话）" and entry["满意度"] == "差评"
    assert entry["事项"] == "不动产登记" and "跑了三次" in entry["差评原因"]
    assert entry["责任部门"] == "不动产登记中心"
    [notice] = rows(case_export.supervisions_csv(center.engine, *period))
    assert (notice["工单编号"], notice["类别"], notice["办件编号"]) == (str(got.case_id), "交办", "")
