"""The public page in Debian's headless Chromium (Playwright), against the
real center: a supervisor marks a case as typical on its page, and a
visitor without login reads the month's figures and the case, on a PC and
on a 390×844 phone, with no personal data anywhere. Screenshots in
test-output/center/public-*.png."""
from datetime import datetime, timedelta

import requests
from playwright.sync_api import expect

from center import directory_db
from center.directory import Directory, diff, from_mappings
from hallcore.hallclock import DEFAULT_TZ
from tests.support.browser import log_in
from tests.support.center import make_vote
from tests.support.paths import TEST_OUTPUT

OUT = TEST_OUTPUT / "center"
STAFF, STAFF_ID = "王秀英", "SID7788"
PHONE = "13912345678"
COMMENT = "排队两个小时没有人管我"
SUMMARY = "群众反映办理不动产首次登记时多次往返。中心督办后，窗口实行一次性告知，当日办结，群众表示满意。"
WINDOWS = (("03", "不动产登记综合受理窗口", "bdc"), ("05", "社会保障卡业务窗口", "sb"),
           ("07", "市场主体登记窗口", "sc"), ("08", "公安户籍窗口", "ga"))
DEPARTMENTS = (("bdc", "县自然资源局不动产登记中心"), ("sb", "县人力资源和社会保障局"),
               ("sc", "县市场监督管理局（企业登记注册）"), ("ga", "县公安局"))


def post(c, token: str, device: str, votes):
    r = requests.post(c.url + "/api/v1/votes", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                      json={"device_id": device, "votes": votes})
    assert {x["status"] for x in r.json()["results"]} == {"stored"}, r.text


def seed(c):
    center = c._center()
    try:
        d = from_mappings([{"id": i, "name": n} for i, n in DEPARTMENTS],
                          [{"id": w, "name": n, "department": dep} for w, n, dep in WINDOWS],
                          [{"id": STAFF_ID, "name": STAFF, "window": "03"}])
        with center.engine.begin() as conn:
            directory_db.write(conn, diff(Directory(), d, replace=True))
    finally:
        center.engine.dispose()
    voted = datetime.now(DEFAULT_TZ).replace(microsecond=0) - timedelta(minutes=40)
    tokens = {"03": (c.device_id, c.token)}
    for w, _, _ in WINDOWS[1:]:
        tokens[w] = (f"tab-{w}", c.add_device(f"tab-{w}", "taojiang", w))
    for n, (w, _, _) in enumerate(WINDOWS):
        device, token = tokens[w]
        votes = [make_vote(device, i, window_id=w, at=voted + timedelta(minutes=i), staff_id=STAFF_ID,
                           staff_name=STAFF, bad=(i % (4 + n) == 0), phone=PHONE, comment=COMMENT,
                           matter=("M1", "不动产首次登记") if w == "03" else ("M2", "业务办理"))
                 for i in range(1, 9 + 3 * n)]
        post(c, token, device, votes)


def test_a_visitor_reads_the_month_and_a_typical_case_on_a_pc_and_a_phone(running_center, browser_page):
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    c.add_user("chen", "supervisor", "chen-pass-1")
    seed(c)
    case_id = c.scalar("SELECT min(id) FROM cases WHERE window_id = '03'")

    log_in(page, c.url, "chen", "chen-pass-1")
    page.goto(f"{c.url}/cases/{case_id}")
    form = page.locator("#typical-form")
    form.locator("input[name=kind][value=commendation]").check()
    form.locator("textarea[name=summary]").fill(SUMMARY)
    form.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "public-0-case-typical-form.png"), full_page=True)
    form.locator("button[type=submit]").click()
    expect(page.locator("#typical-mark")).to_contain_text("表彰")
    expect(page.locator("#typical-summary")).to_have_text(SUMMARY)
    expect(page.locator("#log")).to_contain_text("标为典型案例")

    page.context.clear_cookies()                         # a visitor: no session
    page.goto(c.url + "/public")
    expect(page.locator("#windows tbody tr")).to_have_count(len(WINDOWS))
    expect(page.locator("#departments tfoot")).to_contain_text("全中心")
    row = page.locator("#windows tbody tr", has_text="不动产登记综合受理窗口")
    expect(row.locator("td[data-label=好评率]")).to_have_text("75.0%")     # 6 good of 8
    expect(row.locator("td[data-label=差评数]")).to_have_text("2")
    case = page.locator("#typical li.case")
    expect(case).to_have_count(1)
    expect(case).to_contain_text(SUMMARY)
    expect(case).to_contain_text("不动产首次登记")
    expect(case).to_contain_text("表彰")
    expect(case.locator(".where")).to_contain_text("窗口：03 不动产登记综合受理窗口")
    text = page.locator("body").inner_text()
    for private in (STAFF, STAFF_ID, PHONE, "139****5678", COMMENT, "拖拉推诿", "chen"):
        assert private not in text, private
    assert page.context.cookies() == []                  # the page set none
    page.screenshot(path=str(OUT / "public-1-desktop.png"), full_page=True)

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    expect(page.locator("#windows")).to_be_visible()
    widths = page.evaluate("() => [document.documentElement.scrollWidth, document.body.scrollWidth,"
                           " window.innerWidth]")
    assert widths[0] <= widths[2] and widths[1] <= widths[2], widths     # nothing wider than the phone
    # the tables reflow: each row a card (name and department across, figures two by two,
    # each with its label), no header row
    cell, dept = row.locator("td[data-label=好评率]"), row.locator("td[data-label=所属部门]")
    box, row_box, dept_box = cell.bounding_box(), row.bounding_box(), dept.bounding_box()
    assert row_box["x"] >= 0 and row_box["x"] + row_box["width"] <= 390
    assert 0.3 * row_box["width"] < box["width"] < 0.6 * row_box["width"]
    assert dept_box["width"] > 0.8 * row_box["width"]
    assert page.locator("#windows thead").bounding_box()["width"] <= 1
    label = cell.evaluate("e => getComputedStyle(e, '::before').content")
    assert label == '"好评率"'
    font = page.locator("#typical .summary").evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert font >= 18                                     # large, clear type
    page.screenshot(path=str(OUT / "public-2-phone-390.png"), full_page=True)
    page.locator("#typical").scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "public-3-phone-typical.png"))

    page.select_option("#month", index=0)
    page.click("#month-form button[type=submit]")
    expect(page.locator("#month-title")).to_contain_text("评价结果")
    assert "month=" in page.url
