"""One browser run through the dashboard in Debian's headless Chromium
(Playwright): a handler logs in, sees a new bad review with its deadline,
records the feedback, closes the case and sees the statistics change.
Screenshots go to test-output/center/."""
from datetime import datetime, timedelta

import pytest
import requests
from playwright.sync_api import expect, sync_playwright

from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import make_vote
from tests.support.paths import TEST_OUTPUT

OUT = TEST_OUTPUT / "center"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser_page():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.set_default_timeout(15000)
            yield page
        finally:
            browser.close()


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
    expect(page.locator("#trend svg polyline")).to_have_count(2)
    page.screenshot(path=str(OUT / "04-statistics.png"), full_page=True)

    page.goto(c.url + "/cases")
    expect(page.locator("#cases tr[data-case]")).to_have_count(0)
