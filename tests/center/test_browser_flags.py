"""异常标记 in Debian's headless Chromium (Playwright), against the real
center: tablets post a burst of top ratings, a rating before its ticket's
finish and three 差评 from one number; `hall-center flags scan` raises the
flags; a supervisor reads them with their evidence, opens one, dismisses
another with a note and finds it under 已排除; a supervisor who is the
staff member concerned does not see the flags about them. Screenshots in
test-output/center/flags-*.png."""
import subprocess
import sys
from datetime import datetime, timedelta

import requests
from playwright.sync_api import expect

from hallcore.hallclock import DEFAULT_TZ
from tests.support.browser import log_in
from tests.support.center import REPO, make_vote
from tests.support.paths import TEST_OUTPUT

OUT = TEST_OUTPUT / "center"
PHONE = "13912345678"


def post_votes(c, votes):
    r = requests.post(c.url + "/api/v1/votes", headers=c.auth, timeout=10,
                      json={"device_id": c.device_id, "votes": votes})
    assert {x["status"] for x in r.json()["results"]} == {"stored"}, r.text


def test_a_supervisor_reads_and_dismisses_flags(running_center, browser_page):
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    c.add_user("chen", "supervisor", "chen-pass-1")
    c.add_user("li", "supervisor", "li-pass-1", staff_id="1024")
    yesterday = (datetime.now(DEFAULT_TZ) - timedelta(days=1)).replace(hour=9, minute=30, second=0,
                                                                       microsecond=0)
    burst = [make_vote(c.device_id, i, at=yesterday + timedelta(seconds=12 * i)) for i in range(1, 7)]
    early = [make_vote(c.device_id, 7, at=yesterday + timedelta(hours=2), rating="basically_satisfied",
                       finished_at=yesterday + timedelta(hours=2, minutes=4))]
    bad = [make_vote(c.device_id, 8 + i, bad=True, phone=PHONE, staff_id="2048", staff_name="王芳",
                     at=yesterday + timedelta(hours=3 + i)) for i in range(3)]
    post_votes(c, burst + early + bad)

    scan = subprocess.run([sys.executable, "-m", "center.cli", "flags", "scan", "--config", str(c.config_path)],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert scan.returncode == 0, scan.stderr
    # the server's worker may have scanned first (tick_s 1): the flags are stored once either way
    assert "3 flags tripped" in scan.stdout and PHONE not in scan.stdout
    assert c.scalar("SELECT count(*) FROM anomaly_flags") == 3

    log_in(page, c.url, "chen", "chen-pass-1")
    page.click("header nav >> text=异常标记")
    expect(page).to_have_url(c.url + "/flags")
    cards = page.locator(".card.flag")
    expect(cards).to_have_count(3)
    burst_card = page.locator(".card.flag[data-kind=top_burst]")
    expect(burst_card.locator(".kind")).to_have_text("短时间内连续最高评价")
    expect(burst_card.locator(".summary")).to_contain_text("6 位群众在 60 秒内均给出最高评价")
    expect(burst_card.locator("tr[data-record]")).to_have_count(6)
    expect(burst_card.locator("tr[data-record]").first).to_contain_text("1024 李明")
    phone_card = page.locator(".card.flag[data-kind=phone_many_bad]")
    expect(phone_card.locator(".subject")).to_have_text("号码 139****5678")
    expect(phone_card.locator("tr[data-record] a")).to_have_count(3)        # each 差评's case
    early_card = page.locator(".card.flag[data-kind=voted_before_finish]")
    expect(early_card.locator(".finished")).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text(PHONE)
    page.screenshot(path=str(OUT / "flags-01-open.png"), full_page=True)

    phone_card.locator("text=查看全部证据").click()
    expect(page.locator("#flag-state")).to_have_text("待核查")
    expect(page.locator("tr[data-record]")).to_have_count(3)
    expect(page.locator("main")).to_contain_text("2048 王芳")
    expect(page.locator("main")).not_to_contain_text(PHONE)
    lefts = page.locator("dl dd").evaluate_all("els => els.map(e => e.getBoundingClientRect().left)")
    assert len(lefts) == 5 and len(set(lefts)) == 1, lefts                 # the facts line up
    page.screenshot(path=str(OUT / "flags-02-one-flag.png"), full_page=True)
    page.click("text=返回异常标记")

    burst_card.locator("input[name=note]").fill("经调取窗口录像，系同一单位六名职工依次自行评价")
    burst_card.locator("button[type=submit]").click()
    expect(page.locator("#done")).to_contain_text("已排除")
    expect(page.locator(".card.flag")).to_have_count(2)
    page.click(".tabs a >> text=已排除")
    expect(page).to_have_url(c.url + "/flags?state=dismissed")
    gone = page.locator(".card.flag")
    expect(gone).to_have_count(1)
    expect(gone.locator(".dismissal")).to_contain_text("chen 于")
    expect(gone.locator(".dismissal")).to_contain_text("系同一单位六名职工依次自行评价")
    page.screenshot(path=str(OUT / "flags-03-dismissed.png"), full_page=True)

    page.click("header form button")                                         # 退出
    log_in(page, c.url, "li", "li-pass-1")
    page.click("header nav >> text=异常标记")
    expect(page.locator(".card.flag")).to_have_count(1)                      # 1024's own flag is hidden
    expect(page.locator(".card.flag[data-kind=phone_many_bad]")).to_have_count(1)
    page.screenshot(path=str(OUT / "flags-04-subject-supervisor.png"), full_page=True)
