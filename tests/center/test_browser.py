"""Browser runs through the dashboard in Debian's headless Chromium
(Playwright): a handler logs in, sees a new bad review with its deadline,
records the feedback, closes the case and sees the statistics change, with
the page script and style sheet allowed by the Content-Security-Policy and
no violation reported; and a guesser is locked out with the remaining time
shown on the login page. Screenshots go to test-output/center/. The
`browser_page` fixture is tests/support/browser.py's."""
import re
from datetime import datetime, timedelta

import requests
from playwright.sync_api import expect

from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import make_vote
from tests.support.paths import TEST_OUTPUT

OUT = TEST_OUTPUT / "center"


def test_handler_handles_a_bad_review_in_the_browser(running_center, browser_page):
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    c.add_user("wang", "handler", "wang-pass-1", "03")
    voted = datetime.now(DEFAULT_TZ).replace(microsecond=0) - timedelta(minutes=2)
    votes = [make_vote(c.device_id, 1, bad=True, at=voted), make_vote(c.device_id, 2, at=voted)]
    r = requests.post(c.url + "/api/v1/votes", headers=c.auth, timeout=10,
                      json={"device_id": c.device_id, "votes": votes})
    assert [x["status"] for x in r.json()["results"]] == ["stored", "stored"]

    page.goto(c.url + "/cases")
    expect(page).to_have_url(c.url + "/login")
    page.fill("input[name=name]", "wang")
    page.fill("input[name=password]", "wang-pass-1")
    page.click("button[type=submit]")

    row = page.locator("#cases tr[data-case]")
    expect(row).to_have_count(1)
    assert page.evaluate("typeof tick") == "function"                 # the script ran under the CSP
    assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") \
        == "rgb(183, 28, 28)"                                          # and the style sheet applied
    expect(row).to_contain_text("拖拉推诿")
    expect(row.locator(".countdown")).to_contain_text("剩余")
    due_text = row.locator(".due").inner_text()
    assert due_text.endswith("17:30")
    page.screenshot(path=str(OUT / "01-open-cases.png"), full_page=True)

    page.goto(c.url + "/stats")
    expect(page.locator("#closed")).to_have_text("0")
    expect(page.locator("#bad-rate")).to_have_text("50.0%")

    page.goto(c.url + "/cases")
    row.locator("a").first.click()
    expect(page.locator("#phone")).to_have_text("13812345678")      # unmasked only here
    page.click("#form-verify button")
    expect(page.locator("#state")).to_have_text("核实中")
    page.fill("#form-feedback textarea[name=feedback]", "已电话回访群众，说明办理进度并致歉")
    page.screenshot(path=str(OUT / "02-case-feedback.png"), full_page=True)
    page.click("#form-feedback button")
    expect(page.locator("#state")).to_have_text("已反馈")
    page.click("#form-close button")
    expect(page.locator("#state")).to_have_text("已办结")
    expect(page.locator("#log")).to_contain_text("记录反馈")
    page.screenshot(path=str(OUT / "03-case-closed.png"), full_page=True)

    page.goto(c.url + "/stats")
    expect(page.locator("#closed")).to_have_text("1")
    expect(page.locator("#on-time")).to_have_text("1")
    expect(page.locator("#trend-data-chart")).to_have_attribute("data-rendered", "1")   # ECharts drew it
    rates = page.evaluate("echarts.getInstanceByDom(document.getElementById('trend-data-chart'))"
                          ".getOption().series.map(s => s.data.filter(v => v !== null && v !== 0))")
    assert rates == [[2], [50.0], [50.0]]                         # one day: 2 rated, 50% and 50%
    page.screenshot(path=str(OUT / "04-statistics.png"), full_page=True)

    page.goto(c.url + "/cases")
    expect(page.locator("#cases tr[data-case]")).to_have_count(0)


def test_a_guesser_is_locked_out_with_the_remaining_time_on_the_login_page(running_center, browser_page):
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    c.add_user("wang", "handler", "wang-pass-1", "03")
    page.goto(c.url + "/login")
    for i in range(4):
        page.fill("input[name=name]", "wang")
        page.fill("input[name=password]", f"guess-{i}")
        page.click("button[type=submit]")
        expect(page.locator("#login-error")).to_have_text("用户名或密码错误")
    page.fill("input[name=name]", "wang")
    page.fill("input[name=password]", "guess-4")
    page.click("button[type=submit]")
    expect(page.locator("#login-error")).to_contain_text("登录失败次数过多，已暂时锁定")
    page.fill("input[name=name]", "wang")
    page.fill("input[name=password]", "wang-pass-1")           # the right one waits too
    page.click("button[type=submit]")
    error = page.locator("#login-error")
    expect(error).to_contain_text("后再试")
    assert re.search(r"请 1[45] 分 \d+ 秒后再试", error.inner_text()), error.inner_text()
    expect(page).to_have_url(c.url + "/login")
    page.screenshot(path=str(OUT / "05-login-locked.png"), full_page=True)
