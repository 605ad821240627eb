"""The supervisors' 异常标记 page (center/web/flags.py) over the real app, on
SQLite and PostgreSQL: it lists the open flags with their evidence and
links, dismisses one with a required note (CSRF checked), shows the
dismissed ones; a handler is refused, and the staff member a flag concerns
never sees it, also as a supervisor. No phone number in clear."""
import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from center import flagwork
from center.api import create_app
from center.db import anomaly_flags, cases
from center.ingest import ingest
from tests.center.test_flagwork import IN_PERIOD, NOW, RULES, YESTERDAY, Hall
from tests.support.center import Clock, make_center, make_vote
from tests.support.web import csrf_of, login

PHONE = "13912345678"


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW), anomalies=RULES)
    hall = Hall(c)
    hall.votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])              # staff 1024
    hall.votes("05", [IN_PERIOD, IN_PERIOD + timedelta(days=1), YESTERDAY], bad=True, phone=PHONE,
               staff_id="2048", staff_name="王芳")
    assert sorted(f.kind for f in flagwork.scan(c).raised) == ["phone_many_bad", "top_burst"]
    c.add_user("chen", "supervisor", "chen-pass-1")
    c.add_user("li", "supervisor", "li-pass-1", staff_id="1024")      # a supervisor who also serves at 03
    c.add_user("wang", "handler", "wang-pass-1", "03")
    yield c
    c.engine.dispose()


def flag_ids(center):
    with center.engine.connect() as conn:
        return dict(conn.execute(select(anomaly_flags.c.kind, anomaly_flags.c.id)).all())


def test_the_page_lists_the_open_flags_with_their_evidence(center):
    cl = login(create_app(center), "chen", "chen-pass-1")
    r = cl.get("/flags")
    assert r.status_code == 200
    html = r.text
    ids = flag_ids(center)
    assert f'id="flag-{ids["top_burst"]}"' in html and f'id="flag-{ids["phone_many_bad"]}"' in html
    assert "短时间内连续最高评价" in html and "同一号码多次差评" in html
    assert "窗口 03" in html and "号码 139****5678" in html
    assert "2026-12-08 09:00:00 至 09:00:40" in html          # the burst's span, to the second
    assert html.count('<tr data-record="') == 8
    with center.engine.connect() as conn:
        case_ids = conn.execute(select(cases.c.id)).scalars().all()
    assert len(case_ids) == 3 and all(f'href="/cases/{i}"' in html for i in case_ids)
    assert PHONE not in html
    assert '<a href="/flags">异常标记</a>' in html


def test_a_flag_page_shows_every_record_and_no_number(center):
    cl = login(create_app(center), "chen", "chen-pass-1")
    html = cl.get(f"/flags/{flag_ids(center)['phone_many_bad']}").text
    assert html.count('<tr data-record="') == 3 and "3 条评价记录" in html
    assert "2048 王芳" in html and "不满意" in html and PHONE not in html
    assert 'id="dismiss-form"' in html


def test_dismissing_needs_a_note_and_is_shown_and_logged(center, caplog):
    caplog.set_level(logging.INFO, logger="center.flags")
    cl = login(create_app(center), "chen", "chen-pass-1")
    fid = flag_ids(center)["top_burst"]
    page = cl.get("/flags").text
    r = cl.post(f"/flags/{fid}/dismiss", data={"csrf": csrf_of(page), "note": "  "})
    assert r.status_code == 422 and "未排除：请填写排除理由" in r.text
    r = cl.post(f"/flags/{fid}/dismiss", data={"csrf": "forged", "note": "x"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = cl.post(f"/flags/{fid}/dismiss", data={"csrf": csrf_of(page), "note": "经调取录像，系一家五口分别评价"},
                follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/flags?done={fid}"
    listed = cl.get(r.headers["location"]).text
    assert f"标记 {fid} 已排除" in listed and f'id="flag-{fid}"' not in listed
    gone = cl.get("/flags?state=dismissed").text
    assert f'id="flag-{fid}"' in gone and "经调取录像，系一家五口分别评价" in gone and "chen 于" in gone
    assert "dismissed by chen: 经调取录像" in caplog.text
    again = cl.post(f"/flags/{fid}/dismiss", data={"csrf": csrf_of(page), "note": "再次"})
    assert again.status_code == 422 and "此标记已排除" in again.text
    assert flagwork.scan(center).raised == []


def test_a_handler_is_refused_every_flag_page(center):
    cl = login(create_app(center), "wang", "wang-pass-1")
    fid = flag_ids(center)["top_burst"]
    for r in (cl.get("/flags"), cl.get("/flags?state=dismissed"), cl.get(f"/flags/{fid}"),
              cl.post(f"/flags/{fid}/dismiss", data={"csrf": csrf_of(cl.get("/cases").text), "note": "x"})):
        assert r.status_code == 403 and "异常标记仅限中心督办人员查看" in r.text
        assert "短时间内连续最高评价" not in r.text
    assert 'href="/flags"' not in cl.get("/cases").text


def test_the_staff_member_a_flag_concerns_never_sees_it(center):
    ids = flag_ids(center)
    cl = login(create_app(center), "li", "li-pass-1")                 # staff 1024: the burst is about them
    listed = cl.get("/flags").text
    assert f'id="flag-{ids["top_burst"]}"' not in listed and "短时间内连续最高评价" not in listed
    assert f'id="flag-{ids["phone_many_bad"]}"' in listed              # about someone else: shown
    r = cl.get(f"/flags/{ids['top_burst']}")
    assert r.status_code == 403 and "没有这个标记" in r.text and "最高评价" not in r.text
    r = cl.post(f"/flags/{ids['top_burst']}/dismiss", data={"csrf": csrf_of(listed), "note": "没问题"})
    assert r.status_code == 403
    with center.engine.connect() as conn:
        assert conn.execute(select(anomaly_flags.c.state).where(anomaly_flags.c.id == ids["top_burst"])
                            ).scalar_one() == "open"
    assert f'id="flag-{ids["top_burst"]}"' in login(create_app(center), "chen", "chen-pass-1").get("/flags").text


def test_an_unknown_view_or_flag_is_refused(center):
    cl = login(create_app(center), "chen", "chen-pass-1")
    assert cl.get("/flags?state=everything").status_code == 403
    assert cl.get("/flags/999999").status_code == 403
    assert cl.get("/flags/abc").status_code == 422


def test_an_empty_list_says_so(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW), anomalies=RULES)
    try:
        c.add_user("chen", "supervisor", "chen-pass-1")
        html = login(create_app(c), "chen", "chen-pass-1").get("/flags").text
        assert "没有待核查的异常标记" in html
    finally:
        c.engine.dispose()


def test_the_worker_loop_runs_the_scan(db_url, tmp_path):
    """create_app(worker=True): the loop's round scans (tick_s 1, a fresh center: due at once)."""
    import time
    from fastapi.testclient import TestClient

    from center.config import AlertConfig
    c = make_center(db_url, tmp_path, clock=Clock(NOW), anomalies=RULES, alerts=AlertConfig(tick_s=1))
    try:
        Hall(c).votes("03", [YESTERDAY + timedelta(seconds=s) for s in range(0, 50, 10)])
        with TestClient(create_app(c, worker=True)):
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not flag_ids(c):
                time.sleep(0.1)
        assert list(flag_ids(c)) == ["top_burst"]
    finally:
        c.engine.dispose()


def test_the_window_label_comes_from_the_directory(center):
    from center import directory, directory_db
    with center.engine.begin() as conn:
        d = directory.parse_toml('[[department]]\nid = "bdc"\nname = "不动产登记中心"\n'
                                 '[[window]]\nid = "03"\nname = "不动产登记窗口"\ndepartment = "bdc"\n',
                                 references=False)
        directory_db.write(conn, directory.diff(directory_db.load(conn), d, replace=False))
    html = login(create_app(center), "chen", "chen-pass-1").get("/flags").text
    assert "窗口 03 不动产登记窗口" in html





def test_a_superseded_flag_leaves_the_list_and_points_to_the_newer_one(center):
    old = flag_ids(center)["phone_many_bad"]
    fourth = make_vote("tab-07", 1, at=YESTERDAY + timedelta(hours=3), window_id="07", bad=True, phone=PHONE)
    assert ingest(center, "tab-07", [fourth])[0]["status"] == "stored"
    assert flagwork.scan(center).superseded == 1
    with center.engine.connect() as conn:
        new = conn.execute(select(anomaly_flags.c.id).where(anomaly_flags.c.state == "open",
                                                            anomaly_flags.c.kind == "phone_many_bad")).scalar_one()
    cl = login(create_app(center), "chen", "chen-pass-1")
    listed = cl.get("/flags").text
    assert f'id="flag-{new}"' in listed and f'id="flag-{old}"' not in listed
    page = cl.get(f"/flags/{old}").text
    assert "已被新标记取代" in page and f'<a href="/flags/{new}">标记 {new}</a>' in page
    assert 'id="dismiss-form"' not in page
    assert "4 条评价记录" in cl.get(f"/flags/{new}").text
