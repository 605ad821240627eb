"""The provincial push in the real `hall-center serve` process, against the
reference receiver: a province down while tablets post, the center stopped
with the backlog pending and started again, the province back: every
evaluation arrives once. And the supervisors' 省平台上报 page in Chromium
(screenshots test-output/center/upstream-*.png)."""
from __future__ import annotations

import requests
from playwright.sync_api import expect

from center.config import load_config
from center.service import Center
from tests.support.browser import log_in
from tests.support.center import RunningCenter, free_port, make_vote, write_config
from tests.support.paths import TEST_OUTPUT
from tests.support.receiver import ProvinceReceiver
from tests.support.waiting import wait_for

OUT = TEST_OUTPUT / "center"


def serve_with_upstream(folder, province: ProvinceReceiver) -> RunningCenter:
    folder.mkdir(parents=True, exist_ok=True)
    cfg = write_config(folder, str(folder / "center.sqlite3"))
    with cfg.open("a", encoding="utf-8") as f:
        f.write(f'\n[upstream]\nurl = "{province.url("/evaluation")}"\n'
                f'rectification_url = "{province.url("/rectification")}"\nprofile = "hunan-example"\n'
                "timeout_s = 2\nretry_first_s = 1\nretry_max_s = 2\ntick_s = 1\nbatch = 3\n")
    c = Center(load_config(cfg))
    c.migrate()
    token = c.add_device("tab-03", "taojiang", "03")
    c.add_user("chen", "supervisor", "chen-pass-1")
    url = c.cfg.database
    c.engine.dispose()
    rc = RunningCenter(cfg, url, free_port(), "tab-03", token, folder / "center.log")
    rc.start()
    return rc


def post(rc: RunningCenter, votes) -> None:
    r = requests.post(rc.url + "/api/v1/votes", headers=rc.auth, timeout=10,
                      json={"device_id": rc.device_id, "votes": votes})
    assert {x["status"] for x in r.json()["results"]} == {"stored"}, r.text


def pending(rc: RunningCenter) -> int:
    return rc.scalar("SELECT count(*) FROM upstream_outbox WHERE sent_at IS NULL")


def test_a_restart_mid_backlog_through_an_outage_delivers_every_evaluation_once(tmp_path):
    with ProvinceReceiver() as province:
        province.down(500)
        rc = serve_with_upstream(tmp_path / "center", province)
        try:
            ratings = ["satisfied", "basically_satisfied", "satisfied", "basically_satisfied"]
            post(rc, [make_vote("tab-03", i, rating=r) for i, r in enumerate(ratings, start=1)]
                 + [make_vote("tab-03", 5, bad=True), make_vote("tab-03", 6, bad=True),
                    make_vote("tab-03", 7, unrated=True)])
            wait_for(lambda: province.answers("error") >= 2, what="the forwarder to meet the outage")
            assert pending(rc) == 6 and province.accepted() == {}
            rc.stop()                                        # SIGTERM with the backlog pending
            province.up()
            rc.start()
            wait_for(lambda: pending(rc) == 0, timeout=30, what="the backlog to drain")
            got = province.accepted()
            assert {k: v["satisfaction"] for k, v in got.items()} == {
                ("CN000001", 1): 4, ("CN000002", 1): 3, ("CN000003", 1): 4, ("CN000004", 1): 3,
                ("CN000005", 1): 2, ("CN000006", 1): 2}
            assert {v["pf"] for v in got.values()} == {4}
            assert province.answers("accepted") == 6 and province.answers("duplicate") == 0
            assert rc.scalar("SELECT sum(count) FROM upstream_skips WHERE why = 'unrated'") == 1
        finally:
            rc.stop()


def test_the_status_page_in_the_browser(tmp_path, browser_page):
    page = browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    with ProvinceReceiver() as province:
        province.down(502)
        rc = serve_with_upstream(tmp_path / "center", province)
        try:
            post(rc, [make_vote("tab-03", i) for i in range(1, 5)] + [make_vote("tab-03", 5, case_no=None)])
            wait_for(lambda: province.answers("error") >= 1, what="a failed attempt")
            log_in(page, rc.url, "chen", "chen-pass-1")
            page.click("header nav >> text=省平台上报")
            expect(page).to_have_url(rc.url + "/upstream")
            expect(page.locator("#backlog")).to_contain_text("4 条（评价 4）")
            expect(page.locator("#last-error")).to_contain_text("HTTP 502")
            expect(page.locator("#last-error")).to_contain_text("仍在重试")
            expect(page.locator("#skipped tr[data-why=no_case_no] td").nth(2)).to_have_text("1")
            expect(page.locator("#failing tr")).not_to_have_count(1)
            page.screenshot(path=str(OUT / "upstream-1-outage.png"), full_page=True)
            province.up()
            wait_for(lambda: pending(rc) == 0, timeout=30, what="the backlog to drain")
            page.reload()
            expect(page.locator("#backlog")).to_contain_text("0 条")
            expect(page.locator("#sent-today")).to_have_text("4 条")
            expect(page.locator("#last-error")).to_contain_text("此条随后已上报")
            expect(page.locator("#last-error")).to_contain_text("HTTP 502")          # the failure's, kept
            expect(page.locator("#failing")).to_contain_text("没有失败的条目")
            page.screenshot(path=str(OUT / "upstream-2-drained.png"), full_page=True)
            assert len(province.accepted()) == 4
        finally:
            rc.stop()
