"""The device page in Debian's headless Chromium after real agents fetched
the bundle: one tablet holds the center's latest (with pinned keys), one
refused the newest and keeps an older one. Screenshot under
test-output/center/."""
import requests
from playwright.sync_api import expect

from agent.bundle import BundleKeeper
from agent.config import load_config
from agent.run import Agent
from agent.sender import Sender
from hallcore.hallclock import hall_now
from outbox.store import Outbox
from tests.support.agent_proc import write_tablet_config
from tests.support.center import start_center
from tests.support.paths import TEST_OUTPUT

OUT = TEST_OUTPUT / "center"


def test_the_device_page_shows_each_tablet_s_bundle_calendar_and_pins(tmp_path, browser_page):
    c = start_center(tmp_path / "center", extra='[bundle.kiosk]\ntimeout_s = 90\n')
    try:
        token_07 = c.add_device("tab-07", window_id="03")
        c.add_user("zhou", "supervisor", "zhou-pass-1")
        cfg = load_config(write_tablet_config(tmp_path / "tablet", c.url, c.token,
                                              extra='[bundle]\npinned = ["timeout_s", "holidays"]\n'))
        box, sender = Outbox(cfg.outbox_folder, cfg.device_id), Sender(cfg.center, cfg.device_id)
        try:
            agent = Agent(box, sender, cfg.agent, bundle=BundleKeeper(cfg.tablet))
            agent.heartbeat()             # fetches the bundle ...
            agent.heartbeat()             # ... and reports it
            latest = agent.bundle.current.version
        finally:
            sender.close()
            box.close()
        beat = {"pending": 0, "clock": hall_now().isoformat(), "version": "0.0.9",
                "bundle": {"version": "00aa11bb22cc33dd", "refused": 4,
                           "error": "kiosk.timeout_s: 90 is not longer than reminder_after_s (120)"},
                "calendar": {"2026": "official", "2027": "estimated"}, "pinned": []}
        r = requests.post(c.url + "/api/v1/devices/tab-07/heartbeat", json=beat, timeout=10,
                          headers={"Authorization": f"Bearer {token_07}"})
        assert r.status_code == 200, r.text

        page = browser_page
        page.goto(c.url + "/login")
        page.fill("input[name=name]", "zhou")
        page.fill("input[name=password]", "zhou-pass-1")
        page.click("button[type=submit]")
        page.goto(c.url + "/devices")
        rows = page.locator("#devices tr")
        ours = rows.filter(has_text="tab-03")
        expect(ours.locator("td.bundle")).to_contain_text(f"{latest}（最新）")
        expect(ours.locator("td.pinned")).to_contain_text("holidays, timeout_s")
        expect(ours.locator("td.calendar")).to_contain_text("已核实")
        other = rows.filter(has_text="tab-07")
        expect(other.locator("td.bundle")).to_contain_text(f"中心最新 {latest}，待下发")
        expect(other.locator("td.bundle")).to_contain_text("拒收 4 次：kiosk.timeout_s: 90 is not longer")
        expect(other.locator("td.calendar .warn")).to_have_text("2027 未核实（按规则估算）")
        assert "warn" in other.locator("td.bundle").get_attribute("class")
        OUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(OUT / "devices-bundle.png"), full_page=True)
    finally:
        c.stop()
