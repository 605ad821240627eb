"""综合点评 and 监督查评 in Debian's headless Chromium (Playwright), against
the real center: a supervisor draws a sample, records a return visit that
disagrees with the tablet and sees the window's agreement show it; a
handler enters a 差评 from the 热线电话 and it opens a case listed with the
tablets' cases. Screenshots in test-output/center/ (06-… to 11-…)."""
from datetime import datetime, timedelta

import requests
from playwright.sync_api import expect

from hallcore.hallclock import DEFAULT_TZ
from tests.support.browser import log_in
from tests.support.center import make_vote
from tests.support.paths import TEST_OUTPUT

OUT = TEST_OUTPUT / "center"


def post_votes(c, votes):
    r = requests.post(c.url + "/api/v1/votes", headers=c.auth, timeout=10,
                      json={"device_id": c.device_id, "votes": votes})
    assert {x["status"] for x in r.json()["results"]} == {"stored"}


def test_a_supervisor_draws_a_sample_and_records_a_disagreeing_return_visit(running_center, browser_page):
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    c.add_user("chen", "supervisor", "chen-pass-1")
    voted = datetime.now(DEFAULT_TZ).replace(microsecond=0) - timedelta(minutes=30)
    post_votes(c, [make_vote(c.device_id, i, bad=(i % 5 == 0), at=voted + timedelta(minutes=i),
                             staff_name="李明") for i in range(1, 21)])

    log_in(page, c.url, "chen", "chen-pass-1")
    page.click("header nav >> text=监督查评")
    expect(page).to_have_url(c.url + "/supervision")
    page.fill("#draw-form input[name=share]", "0.5")
    page.fill("#draw-form input[name=seed]", "20261202")
    page.screenshot(path=str(OUT / "06-supervision-draw-form.png"), full_page=True)
    page.click("#draw-form button[type=submit]")

    expect(page.locator("#seed")).to_have_text("20261202")
    calls = page.locator("#calls tr[data-item]")
    expect(calls).to_have_count(10)
    expect(page.locator("#calls")).not_to_contain_text("平板：")      # the caller does not know the answer
    page.screenshot(path=str(OUT / "07-supervision-call-list.png"), full_page=True)

    # a good rating on the tablet (no call-back number: found through the 办件编号); the citizen says 不满意
    row = calls.filter(has_text="凭办件编号查询").first
    item = row.get_attribute("data-item")
    row.locator("input[name=reached][value=yes]").check()
    row.locator("select[name=rating]").select_option("dissatisfied")
    row.locator("input[name=remarks]").fill("群众称是工作人员让其点的满意")
    row.locator("button[type=submit]").click()

    row = page.locator(f"#item-{item}")
    expect(row.locator(".visit-result")).to_contain_text("平板：满意 · 电话：不满意")
    expect(row.locator(".visit-result")).to_contain_text("不一致")
    expect(row.locator("form")).to_have_count(0)                      # once reached, never again
    window = page.locator("#agreement tr[data-window='03']")
    expect(window.locator(".disagree")).to_have_text("1")
    expect(window.locator(".rate")).to_have_text("0.0%")
    expect(window.locator(".good-confirmed")).to_have_text("0.0%")
    row.scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "08-supervision-visit-disagrees.png"), full_page=True)

    page.click("text=重新抽取核对 >> nth=0")
    expect(page.locator("#audit-result")).to_contain_text("一致：用随机种子 20261202 重新抽取")

    page.click("header nav >> text=评价统计")
    window = page.locator("#agreement tr[data-window='03']")
    expect(window.locator(".disagree")).to_have_text("1")
    expect(window.locator(".rate")).to_have_text("0.0%")
    page.locator("#agreement").scroll_into_view_if_needed()
    page.screenshot(path=str(OUT / "09-statistics-agreement.png"), full_page=True)


def test_a_hotline_bad_comment_opens_a_case(running_center, browser_page):
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    c.add_user("wang", "handler", "wang-pass-1", "03")
    log_in(page, c.url, "wang", "wang-pass-1")
    expect(page.locator("#cases tr[data-case]")).to_have_count(0)

    page.click("header nav >> text=综合点评")
    form = page.locator("#comment-form")
    expect(form.locator("input[name=window_id]")).to_have_value("03")
    form.locator("select[name=source]").select_option(label="热线电话")
    form.locator("select[name=verdict]").select_option(label="差评")
    form.locator("textarea[name=text]").fill("群众来电反映：不动产登记窗口要求补交的材料没有一次性告知，来回跑了三趟。")
    form.locator("input[name=matter_name]").fill("不动产登记")
    form.locator("input[name=contact_phone]").fill("13912345678")
    page.screenshot(path=str(OUT / "10-comment-form.png"), full_page=True)
    form.locator("button[type=submit]").click()

    notice = page.locator("#entered")
    expect(notice).to_contain_text("已生成差评工单")
    expect(page.locator("#comments tr[data-comment]")).to_have_count(1)
    expect(page.locator("#comments")).to_contain_text("139****5678")
    notice.locator("a").click()

    expect(page.locator("#origin")).to_have_text("综合点评（热线电话）")
    expect(page.locator("#comment-text")).to_contain_text("没有一次性告知")
    expect(page.locator("#phone")).to_have_text("13912345678")        # in full only here
    expect(page.locator("#state")).to_have_text("待核实")
    assert page.locator("#due").inner_text().endswith("17:30")
    page.screenshot(path=str(OUT / "11-comment-case.png"), full_page=True)

    page.click("header nav >> text=差评工单")
    row = page.locator("#cases tr[data-case]")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("综合点评（热线电话）")
    expect(row.locator(".countdown")).to_contain_text("剩余")
    page.screenshot(path=str(OUT / "12-open-cases-with-comment.png"), full_page=True)
