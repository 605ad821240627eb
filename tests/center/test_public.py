"""The public page /public (center/web/public.py): no login, the statistics
page's figures per department and window for a month, typical cases marked
on the case page, nothing personal (planted and looked for), escaping,
caching headers, 304, the in-process cache, the month parameter, and a year
of rollup rows read through the indexes, never the records table."""
import re
from datetime import date, datetime, time, timedelta
from html.parser import HTMLParser

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import event, insert, select

from center import casework, commentwork, directory_db, stats
from center.api import create_app
from center.cases import Actor
from center.config import PublicConfig, load_config
from center.db import case_log, cases, comments, daily_stats, typical_cases
from center.directory import Directory, diff, from_mappings
from center.disclosure import MONTHS_SHOWN
from center.ingest import ingest
from hallcore.config import ConfigError
from hallcore.hallclock import DEFAULT_TZ, to_db
from tests.support.center import REPO, Clock, make_center, make_vote
from tests.support.web import csrf_of, login

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)
VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
STAFF, STAFF_ID = "王秀英", "SID7788"             # window 03, in the records and the directory
STAFF2, STAFF2_ID = "赵六福", "SID5566"            # window 05, in the records only
PHONE, PHONE2 = "13912345678", "13698765432"
COMMENT = "排队两个小时没有人管我"
HOTLINE = "热线反映大厅空调坏了没人修理"
HOTLINE_PHONE = "13755554444"
MARKED_MATTER, OTHER_MATTER = ("M7", "不动产首次登记"), ("M8", "抵押权注销登记")
HANDLER = Actor("wang", "handler", "03")
BOSS = Actor("chen", "supervisor")
EVIL = "<script>alert(1)</script>"


class Tables(HTMLParser):
    """The text of each cell of each table, by the table's id."""

    def __init__(self, html: str):
        super().__init__()
        self.tables: dict[str, list[list[str]]] = {}
        self._table = self._row = self._cell = None
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table":
            self._table = self.tables.setdefault(a.get("id", ""), [])
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None:
            self._row.append("".join(self._cell).strip())
            self._cell = None
        elif tag == "table":
            self._table = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def body_rows(html: str, table: str) -> dict[str, list[str]]:
    """A table's rows without its header, by their first cell."""
    return {r[0]: r[1:] for r in Tables(html).tables[table][1:]}


def seed(c, *, directory: bool = True):
    c.add_device("tab-03", "taojiang", "03")
    c.add_device("tab-05", "taojiang", "05")
    c.add_user("chen", "supervisor", "chen-pass-1")
    c.add_user("wang", "handler", "wang-pass-1", "03")
    if directory:
        d = from_mappings([{"id": "bdc", "name": "不动产登记中心"}, {"id": "sb", "name": "社保医保"}],
                          [{"id": "03", "name": "不动产登记窗口", "department": "bdc"},
                           {"id": "05", "name": "社保窗口", "department": "sb"}],
                          [{"id": STAFF_ID, "name": STAFF, "window": "03"}])
        with c.engine.begin() as conn:
            directory_db.write(conn, diff(Directory(), d, replace=True))
    who = dict(staff_id=STAFF_ID, staff_name=STAFF)
    ingest(c, "tab-03", [make_vote("tab-03", i, at=VOTED, **who) for i in (1, 2, 3)]
           + [make_vote("tab-03", 4, bad=True, at=VOTED, phone=PHONE, comment=COMMENT, matter=MARKED_MATTER, **who),
              make_vote("tab-03", 5, bad=True, at=VOTED, phone=PHONE2, matter=OTHER_MATTER, **who),
              make_vote("tab-03", 6, at=VOTED - timedelta(days=40), **who)])      # October
    ingest(c, "tab-05", [make_vote("tab-05", 1, window_id="05", at=VOTED, staff_id=STAFF2_ID, staff_name=STAFF2),
                         make_vote("tab-05", 2, window_id="05", bad=True, at=VOTED, phone=PHONE,
                                   staff_id=STAFF2_ID, staff_name=STAFF2)])
    got = commentwork.enter(c, dict(source="hotline", verdict="bad", text=HOTLINE, window_id="03",
                                    received_at="2026-11-27T16:00", contact_phone=HOTLINE_PHONE), BOSS)
    assert got.case_id is not None
    return case_ids(c)


def case_ids(c) -> dict[str, int]:
    """The cases by what they are about: the marked matter, the other, window 05's, the hotline's."""
    with c.engine.connect() as conn:
        rows = conn.execute(select(cases.c.id, cases.c.matter_code, cases.c.window_id, cases.c.source)).all()
    out = {}
    for r in rows:
        key = ("hotline" if r.source == "comment" else "w05" if r.window_id == "05"
               else {"M7": "marked", "M8": "other"}[r.matter_code])
        out[key] = r.id
    return out


@pytest.fixture
def center(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW))
    c.ids = seed(c)
    yield c
    c.engine.dispose()


def app_of(c, *, ttl: float | None = None):
    app = create_app(c)
    if ttl is not None:
        app.state.public_cache.ttl_s = ttl
    return app


def mark(client, case_id: int, kind: str = "commendation", summary: str = "中心督办后当日办结，群众表示满意。"):
    page = client.get(f"/cases/{case_id}")
    return client.post(f"/cases/{case_id}/typical", data={"csrf": csrf_of(page.text), "kind": kind,
                                                          "summary": summary}, follow_redirects=False)


# ------------------------------------------------------------ the figures

def test_the_figures_are_the_statistics_pages_per_department_and_window(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW))
    try:
        ids = seed(c)
        casework.act(c, ids["marked"], "rectify", HANDLER, note="已增设引导岗")
        casework.act(c, ids["other"], "appeal", HANDLER, claim="mistaken", note="老人误触")
        casework.act(c, ids["other"], "uphold", BOSS, note="回看录像属实")
        r = TestClient(app_of(c)).get("/public")
        assert r.status_code == 200 and "set-cookie" not in r.headers
        html = r.text
        assert "2026年11月评价结果" in html
        # window 03: 4 good of 5 rated, one bad upheld on appeal: 3 of 4, 1 差评 standing,
        # 2 cases stand (the record's and the hotline's), 1 rectified
        wins = body_rows(html, "windows")
        assert wins["03 不动产登记窗口"] == ["不动产登记中心", "4", "75.0%", "1", "50.0%"]
        assert wins["05 社保窗口"] == ["社保医保", "2", "50.0%", "1", "0.0%"]
        deps = body_rows(html, "departments")
        assert deps["不动产登记中心"] == ["4", "75.0%", "1", "50.0%"]
        assert deps["全中心"] == ["6", "66.7%", "2", "33.3%"]
        with c.engine.connect() as conn:       # the same figures as stats.summary gives the statistics page
            d = directory_db.load(conn)
            for r in stats.summary(conn, date(2026, 11, 1), date(2026, 11, 30), "window", directory=d):
                assert wins[r.label][1:] == [str(r.scored), stats.pct(r.good_rate), str(r.standing_bad),
                                             stats.pct(r.rectification_rate)]
        october = TestClient(app_of(c)).get("/public?month=2026-10").text
        assert body_rows(october, "windows")["03 不动产登记窗口"] == ["不动产登记中心", "1", "100.0%", "0", "—"]
    finally:
        c.engine.dispose()


def test_without_a_directory_windows_and_departments_come_from_the_config(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW))
    try:
        seed(c, directory=False)
        html = TestClient(app_of(c)).get("/public").text
        assert body_rows(html, "windows")["03"][0] == "不动产登记"      # make_center's [departments]
        assert body_rows(html, "windows")["05"][0] == "未分配部门"
        assert STAFF not in html and STAFF_ID not in html
    finally:
        c.engine.dispose()


# ------------------------------------------------------------ nothing personal

PERSONAL = (PHONE, PHONE2, HOTLINE_PHONE, "13812345678", COMMENT, HOTLINE, "拖拉推诿", "等了很久", "wang", "chen")


def assert_nothing_personal(html: str, *, names: bool) -> None:
    for s in PERSONAL:
        assert s not in html, s
    for phone in (PHONE, PHONE2, HOTLINE_PHONE):                  # nor masked (139****5678)
        assert f"{phone[:3]}****{phone[-4:]}" not in html
    assert STAFF_ID not in html and STAFF2_ID not in html          # ids never
    assert (STAFF in html, STAFF2 in html) == (names, names)


def test_no_staff_name_or_id_and_never_a_phone_or_comment(center):
    cl = login(app := app_of(center), "chen", "chen-pass-1")
    assert mark(cl, center.ids["marked"], "notice", "窗口办理拖延，中心督办后已整改。").status_code == 303
    # a summary saved while names were published (the config changed since): the name is scrubbed
    with center.engine.begin() as conn:
        conn.execute(insert(typical_cases).values(case_id=center.ids["w05"], kind="commendation",
                                                  summary=f"{STAFF2}耐心解释政策。", marked_by="chen",
                                                  marked_at=to_db(NOW)))
    app.state.public_cache.clear()
    html = TestClient(app).get("/public").text
    assert "窗口办理拖延，中心督办后已整改。" in html and "工作人员耐心解释政策。" in html
    assert_nothing_personal(html, names=False)
    assert "工作人员" not in Tables(html).tables["windows"][0]


def test_with_staff_names_the_names_are_shown_by_window_but_never_ids_phones_or_comments(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW),
                    public=PublicConfig(staff_names=True))
    try:
        c.ids = seed(c)
        cl = login(app := app_of(c), "chen", "chen-pass-1")
        assert mark(cl, c.ids["marked"], summary=f"{STAFF}主动帮群众补齐材料。").status_code == 303
        html = TestClient(app).get("/public").text
        staff = body_rows(html, "staff")
        assert staff[STAFF] == ["03 不动产登记窗口", "5", "60.0%", "2", "0.0%"]
        assert staff[STAFF2] == ["05 社保窗口", "2", "50.0%", "1", "0.0%"]
        assert f"{STAFF}主动帮群众补齐材料。" in html
        assert_nothing_personal(html, names=True)
    finally:
        c.engine.dispose()


def test_names_in_directory_and_records_are_escaped(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW))
    try:
        c.add_device("tab-03", "taojiang", "03")
        c.add_user("chen", "supervisor", "chen-pass-1")
        d = from_mappings([{"id": "x", "name": f"部门{EVIL}"}],
                          [{"id": "03", "name": "窗口<img src=x onerror=alert(2)>", "department": "x"}], [])
        with c.engine.begin() as conn:
            directory_db.write(conn, diff(Directory(), d, replace=True))
        ingest(c, "tab-03", [make_vote("tab-03", 1, bad=True, at=VOTED, matter=("M1", f"事项{EVIL}"))])
        cl = login(app := app_of(c), "chen", "chen-pass-1")
        with c.engine.connect() as conn:
            case_id = conn.execute(select(cases.c.id)).scalar_one()
        assert mark(cl, case_id, summary=f"摘要{EVIL}\"'&").status_code == 303
        html = TestClient(app).get("/public").text
        assert "<script>" not in html and "<img" not in html
        assert html.count("&lt;script&gt;alert(1)&lt;/script&gt;") == 5    # department ×3, matter, summary
        assert "摘要&lt;script&gt;alert(1)&lt;/script&gt;&#34;&#39;&amp;" in html
    finally:
        c.engine.dispose()


def test_the_page_links_only_to_itself_and_its_style_sheet(center):
    cl = login(app := app_of(center), "chen", "chen-pass-1")
    mark(cl, center.ids["marked"])
    html = TestClient(app).get("/public").text
    targets = set(re.findall(r'(?:href|src|action)="([^"]*)"', html))
    assert targets == {"/public", "/static/public.css"}
    assert not re.search(r"<script|\sstyle=|\son[a-z]+=", html)       # CSP: nothing inline
    assert "/cases" not in html and "/login" not in html and "csrf" not in html


# ------------------------------------------------------------ typical cases

def test_a_supervisor_marks_and_unmarks_a_typical_case_logged_in_the_case_log(center):
    app = app_of(center)
    cl, public = login(app, "chen", "chen-pass-1"), TestClient(app)
    assert "2026年11月暂无典型案例" in public.get("/public").text
    case_id = center.ids["marked"]
    assert mark(cl, case_id, "commendation", "中心督办后当日办结，群众表示满意。").headers["location"] \
        == f"/cases/{case_id}#typical"
    html = public.get("/public").text                   # the mark cleared the page cache
    assert "中心督办后当日办结，群众表示满意。" in html and MARKED_MATTER[1] in html
    assert OTHER_MATTER[1] not in html                  # a case not marked never shows
    item = html.split('<li class="case commendation">')[1].split("</li>")[0]
    assert '<span class="kind">表彰</span>' in item
    assert ("<span>部门：不动产登记中心</span> <span>窗口：03 不动产登记窗口</span> "
            "<span>月份：2026年11月</span>") in item
    assert "办理结果：办理中" in item
    page = cl.get(f"/cases/{case_id}").text
    assert 'id="typical-mark"' in page and "修改典型案例" in page
    r = cl.post(f"/cases/{case_id}/typical", data={"csrf": csrf_of(page), "kind": "notice",
                                                   "summary": "群众多次往返，窗口已整改。"}, follow_redirects=False)
    assert r.status_code == 303
    assert "群众多次往返，窗口已整改。" in public.get("/public").text
    page = cl.get(f"/cases/{case_id}").text
    assert cl.post(f"/cases/{case_id}/typical/remove", data={"csrf": csrf_of(page)},
                   follow_redirects=False).status_code == 303
    html = public.get("/public").text
    assert MARKED_MATTER[1] not in html and "11月暂无典型案例" in html
    with center.engine.connect() as conn:
        log = conn.execute(select(case_log.c.actor, case_log.c.action, case_log.c.note)
                           .where(case_log.c.case_id == case_id, case_log.c.action.like("typical%"))
                           .order_by(case_log.c.id)).all()
        assert conn.execute(select(typical_cases)).all() == []
    assert [tuple(x) for x in log] == [
        ("chen", "typical_mark", "表彰：中心督办后当日办结，群众表示满意。"),
        ("chen", "typical_mark", "修改为通报：群众多次往返，窗口已整改。"),
        ("chen", "typical_unmark", None)]
    assert "标为典型案例" in cl.get(f"/cases/{case_id}").text          # the log's label


def test_a_summary_with_a_phone_number_is_refused_and_nothing_is_saved(center):
    cl = login(app_of(center), "chen", "chen-pass-1")
    r = mark(cl, center.ids["marked"], summary="群众电话139 1234 5678，已回访")
    assert r.status_code == 422
    assert "“139 1234 5678”疑似电话号码" in r.text
    assert "群众电话139 1234 5678，已回访</textarea>" in r.text          # kept in the form to correct
    r = mark(cl, center.ids["marked"], summary=f"群众留言：{COMMENT}")
    assert r.status_code == 422 and "不能照录群众的留言" in r.text
    r = mark(cl, center.ids["marked"], summary=f"{STAFF}态度生硬")
    assert r.status_code == 422 and "不公开工作人员姓名" in r.text
    r = mark(cl, center.ids["hotline"], summary="大厅设施报修后已修复。", kind="praise")
    assert r.status_code == 422 and "表彰或通报" in r.text
    with center.engine.connect() as conn:
        assert conn.execute(select(typical_cases)).all() == []


def test_a_notice_of_an_upheld_appeal_is_refused(center):
    casework.act(center, center.ids["other"], "appeal", HANDLER, claim="mistaken", note="误触")
    casework.act(center, center.ids["other"], "uphold", BOSS, note="属实")
    cl = login(app_of(center), "chen", "chen-pass-1")
    r = mark(cl, center.ids["other"], "notice", "窗口办理拖延。")
    assert r.status_code == 422 and "不能作为通报案例" in r.text


def test_only_supervisors_with_the_forms_token_can_mark(center):
    app = app_of(center)
    handler = login(app, "wang", "wang-pass-1")
    case_id = center.ids["marked"]
    assert 'id="typical-form"' not in handler.get(f"/cases/{case_id}").text
    r = handler.post(f"/cases/{case_id}/typical", data={"csrf": csrf_of(handler.get(f"/cases/{case_id}").text),
                                                        "kind": "notice", "summary": "窗口办理拖延。"})
    assert r.status_code == 403
    boss = login(app, "chen", "chen-pass-1")
    assert boss.post(f"/cases/{case_id}/typical", data={"csrf": "forged", "kind": "notice",
                                                        "summary": "窗口办理拖延。"}).status_code == 403
    anonymous = TestClient(app).post(f"/cases/{case_id}/typical", data={"kind": "notice", "summary": "x"},
                                     follow_redirects=False)
    assert anonymous.status_code == 303 and anonymous.headers["location"] == "/login"
    page = boss.get("/cases/99999")
    assert boss.post("/cases/99999/typical", data={"csrf": csrf_of(boss.get(f"/cases/{case_id}").text),
                                                   "kind": "notice", "summary": "x"}).status_code == 403
    assert page.status_code == 403
    with center.engine.connect() as conn:
        assert conn.execute(select(typical_cases)).all() == []


# ------------------------------------------------------------ caching

def test_caching_headers_etag_and_304(center):
    app = app_of(center)
    cl = TestClient(app)
    r = cl.get("/public")
    assert r.headers["cache-control"] == "public, max-age=300"
    etag = r.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)
    again = cl.get("/public", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag and again.headers["cache-control"] == "public, max-age=300"
    assert cl.get("/public", headers={"If-None-Match": '"other"'}).status_code == 200
    assert cl.get("/public?month=2026-11").headers["etag"] == etag        # the default is the latest month
    assert cl.get("/public?month=2026-10").headers["etag"] != etag
    assert cl.get("/public?month=2026-11&utm=x").headers["etag"] == etag   # other parameters change nothing
    head = cl.head("/public")
    assert head.status_code == 200 and head.content == b"" and head.headers["etag"] == etag
    # a logged-in visitor gets the very same page (nothing depends on a session)
    assert login(app, "chen", "chen-pass-1").get("/public").headers["etag"] == etag
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        assert cl.request(method, "/public").status_code == 405


def test_a_burst_costs_one_query_set_until_the_page_is_max_age_old(center):
    app = app_of(center)
    ticks = [0.0]
    app.state.public_cache.now = lambda: ticks[0]
    statements = []
    event.listen(center.engine, "before_cursor_execute",
                 lambda conn, cur, sql, params, ctx, many: statements.append(sql))
    cl = TestClient(app)
    first = cl.get("/public")
    one_set = len(statements)
    assert one_set > 0
    for _ in range(20):
        assert cl.get("/public").headers["etag"] == first.headers["etag"]
    assert len(statements) == one_set
    ingest(center, "tab-05", [make_vote("tab-05", 3, window_id="05", at=VOTED)])
    assert cl.get("/public").headers["etag"] == first.headers["etag"]     # still the cached page
    ticks[0] += 300
    statements.clear()
    changed = cl.get("/public", headers={"If-None-Match": first.headers["etag"]})
    assert changed.status_code == 200 and changed.headers["etag"] != first.headers["etag"]
    assert body_rows(changed.text, "windows")["05 社保窗口"][1] == "3"
    # the page reads the rollup and the cases; records only by primary key, for a marked case
    assert statements and all("records.id = cases.record_id" in s for s in statements if "records" in s)


# ------------------------------------------------------------ the month parameter

@pytest.mark.parametrize("query", ["month=2026-13", "month=2026-1", "month=%EF%BC%92%EF%BC%90%EF%BC%92%EF%BC%96-11",
                                   "month=2026-11%00", "month=" + "9" * 5000, "month=2026-11&month=2026-10",
                                   "month=%27%20OR%201=1--", "month[]=2026-11&month=x"])
def test_a_bad_month_is_a_clear_400_page_not_cached(center, query):
    r = TestClient(app_of(center)).get("/public?" + query)
    assert r.status_code == 400
    assert "月份" in r.text and 'href="/public"' in r.text
    assert r.headers["cache-control"] == "no-store" and "etag" not in r.headers


def test_a_month_without_data_is_a_404_page(center):
    r = TestClient(app_of(center)).get("/public?month=2025-11")
    assert r.status_code == 404 and "2025年11月没有可公开的评价数据" in r.text
    assert r.headers["cache-control"] == "no-store"


def test_an_empty_center_shows_the_current_month_without_data(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW))
    try:
        html = TestClient(app_of(c)).get("/public").text
        assert "2026年11月暂无评价数据" in html and 'id="month-form"' not in html
    finally:
        c.engine.dispose()


# ------------------------------------------------------------ a year of data

def load_year(c, *, windows: int = 20, days: int = 365, last: date = date(2026, 11, 30)) -> int:
    """One rollup row per window and day (a year of a 20-window hall), and a
    case (from a 综合点评 entry) every tenth day per window, written straight
    into the tables; the number of rollup rows."""
    rows = [dict(day=last - timedelta(days=i), department=f"部门{w % 5}", window_id=f"{w:02d}",
                 staff_id=f"S{w}", staff_name=f"员工{w}", matter_code="M1", matter_name="事项", total=40,
                 rated=36, good=34, bad=2, excluded=0, channel="hall_tablet", satisfaction_code=0)
            for w in range(1, windows + 1) for i in range(days)]
    with c.engine.begin() as conn:
        conn.execute(insert(daily_stats), rows)
        for w in range(1, windows + 1):
            for i in range(0, days, 10):
                at = to_db(datetime.combine(last - timedelta(days=i), time(10), DEFAULT_TZ))
                cid = conn.execute(insert(comments).returning(comments.c.id), dict(
                    source="box", verdict="bad", negative=True, text="意见", window_id=f"{w:02d}",
                    received_at=at, entered_by="chen", entered_at=at)).scalar_one()
                conn.execute(insert(cases), dict(
                    source="comment", comment_id=cid, hall_id="taojiang", window_id=f"{w:02d}",
                    department=f"部门{w % 5}", staff_id="", matter_code="", state="closed", voted_at=at,
                    due_at=at, calendar_verified=True, appeal="none", updated_at=at,
                    rectified_at=at if i % 20 == 0 else None))
    return len(rows)


def test_a_year_of_rollup_rows_is_read_through_the_indexes_not_the_records(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW))
    try:
        assert load_year(c) == 20 * 365
        statements = []
        event.listen(c.engine, "before_cursor_execute",
                     lambda conn, cur, sql, params, ctx, many: statements.append((sql, params)))
        r = TestClient(app_of(c)).get("/public?month=2026-06")
        assert r.status_code == 200
        months = re.findall(r'<option value="(\d{4}-\d{2})"', r.text)
        assert len(months) == MONTHS_SHOWN and months[0] == "2026-11" and months[-1] == "2025-12"
        assert len(body_rows(r.text, "windows")) == 20
        assert body_rows(r.text, "departments")["全中心"][:3] == [str(20 * 30 * 36), "94.4%", str(20 * 30 * 2)]
        assert all("records" not in s or "records.id = cases.record_id" in s for s, _ in statements)
        # the month list: two index lookups (max) per month, never a scan of every day
        assert sum("max(" in s.lower() for s, _ in statements) == 2 * MONTHS_SHOWN
        # every query of the rollup, the cases and the records searches an index (SQLite's plans)
        selects = [(sql, p) for sql, p in statements if sql.lstrip().upper().startswith("SELECT")]
        with c.engine.connect() as conn:
            for sql, params in selects:
                plan = " ".join(str(x[-1]) for x in conn.exec_driver_sql("EXPLAIN QUERY PLAN " + sql, params))
                for table in ("daily_stats", "cases", "records"):
                    assert not re.search(rf"SCAN {table}\b(?! USING COVERING)", plan), (sql, plan)
    finally:
        c.engine.dispose()


def test_the_month_list_skips_months_without_data_and_offers_the_last_twelve(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(NOW))
    try:
        days = [date(2024, m, 3) for m in (1, 5)] + [date(2025, m, 9) for m in range(1, 13) if m != 7] \
            + [date(2026, 3, 1), date(2026, 3, 31)]
        with c.engine.begin() as conn:
            conn.execute(insert(daily_stats), [dict(day=d, department="d", window_id="03", staff_id="s",
                                                    staff_name="n", matter_code="m", matter_name="m", total=1,
                                                    rated=1, good=1, bad=0, excluded=0, channel="hall_tablet",
                                                    satisfaction_code=1) for d in days])
        html = TestClient(app_of(c)).get("/public").text
        months = re.findall(r'<option value="(\d{4}-\d{2})"', html)
        assert months == ["2026-03", "2025-12", "2025-11", "2025-10", "2025-09", "2025-08", "2025-06",
                          "2025-05", "2025-04", "2025-03", "2025-02", "2025-01"]
        assert "2026年3月评价结果" in html
    finally:
        c.engine.dispose()


# ------------------------------------------------------------ config

def write(tmp_path, text: str):
    p = tmp_path / "center.toml"
    p.write_text('[center]\ndatabase = "c.sqlite3"\n' + text, encoding="utf-8")
    return p


def test_public_config_defaults_and_errors(tmp_path):
    assert load_config(write(tmp_path, "")).public == PublicConfig(staff_names=False, max_age_s=300)
    cfg = load_config(write(tmp_path, "[public]\nstaff_names = true\nmax_age_s = 60\n"))
    assert cfg.public == PublicConfig(staff_names=True, max_age_s=60)
    with pytest.raises(ConfigError, match=r"public\.staff_names.*true or false"):
        load_config(write(tmp_path, '[public]\nstaff_names = "yes"\n'))
    with pytest.raises(ConfigError, match=r"public\.max_age_s"):
        load_config(write(tmp_path, "[public]\nmax_age_s = -1\n"))
    with pytest.raises(ConfigError, match=r"public\.staff_name"):
        load_config(write(tmp_path, "[public]\nstaff_name = true\n"))


def test_the_example_config_documents_the_public_table():
    text = (REPO / "config" / "center.example.toml").read_text(encoding="utf-8")
    assert "[public]" in text and "staff_names = false" in text
    assert load_config(REPO / "config" / "center.example.toml").public == PublicConfig()
