"""The citizen's QR rating page in Debian's headless Chromium (Playwright) at
phone size 390×844, against the real center server: a 办件 is rated once,
a second rating is refused (已评价), a forged code is refused. No console
error (a CSP violation is one). Screenshots in test-output/center/."""
import pytest
from playwright.sync_api import expect, sync_playwright

from center.qrcheck import QrFields, build_url, format_secrets, make_code
from tests.support.browser import CHROMIUM_ARGS
from tests.support.paths import TEST_OUTPUT
from tests.support.center import start_center

SECRET = bytes(range(32))
OUT = TEST_OUTPUT / "center"
FIELDS = QrFields("taojiang", "430922202611270001", ("GA001", "RS-012"))


@pytest.fixture
def qr_center(tmp_path):
    rc = start_center(tmp_path / "center")
    rc.stop()
    secrets = tmp_path / "center" / "qr-secrets.toml"
    secrets.write_text(format_secrets({"taojiang": [SECRET]}))
    text = rc.config_path.read_text(encoding="utf-8").replace("[center]\n", '[center]\nregion_code = "430922"\n')
    rc.config_path.write_text(text + f'\n[qr]\nsecrets_file = "{secrets}"\n', encoding="utf-8")
    rc.start()
    try:
        yield rc
    finally:
        rc.stop()


@pytest.fixture
def phone():
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN",
                                          device_scale_factor=2, is_mobile=True, has_touch=True)
            page = context.new_page()
            page.set_default_timeout(15000)
            errors = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield page
            # the refusals are 403/409 pages, which the console reports as failed loads; nothing else
            assert [e for e in errors if not e.startswith("Failed to load resource")] == []
        finally:
            browser.close()


def test_a_citizen_rates_once_and_a_repeat_and_a_forgery_are_refused(qr_center, phone):
    OUT.mkdir(parents=True, exist_ok=True)
    url = qr_center.url + build_url("/r", FIELDS, make_code(SECRET, FIELDS))
    page = phone
    assert page.goto(url).status == 200
    expect(page.locator("section.card h2")).to_have_count(2)
    size = page.locator(".level").first.evaluate("e => parseFloat(getComputedStyle(e).fontSize)")
    assert size >= 24                                   # large type at phone size
    assert page.evaluate("document.documentElement.scrollWidth") <= 390   # no sideways scrolling
    page.screenshot(path=str(OUT / "qr-01-page.png"), full_page=True)

    other_tab = page.context.new_page()      # the same code scanned on a second phone, form still open
    assert other_tab.goto(url).status == 200

    first = page.locator("section.card").first
    first.locator("label.level.dissatisfied").click()
    first.locator("label", has_text="拖拉推诿").click()
    first.locator("button").click()
    expect(page.locator(".done")).to_contain_text("感谢您的评价！已记录：不满意")
    expect(page.locator("section.card").first.locator(".rated")).to_have_text("已评价")
    page.screenshot(path=str(OUT / "qr-02-rated.png"), full_page=True)
    assert [(r["channel"], r["matter_code"], r["rating"]) for r in qr_center.records()] \
        == [("qr", "GA001", "dissatisfied")]
    assert qr_center.scalar("SELECT count(*) FROM cases") == 1

    # the second phone sends the form it still shows
    form = other_tab.locator("section.card").first
    form.locator("label.level.satisfied").click()
    with other_tab.expect_response(lambda r: r.request.method == "POST") as answer:
        form.locator("button").click()
    assert answer.value.status == 409
    expect(other_tab.locator(".refused h2")).to_have_text("已评价")
    expect(other_tab.locator(".refused")).to_contain_text("该事项已经评价过，不能重复评价")
    other_tab.screenshot(path=str(OUT / "qr-03-already-rated.png"), full_page=True)
    assert len(qr_center.records()) == 1

    forged = url.replace("430922202611270001", "430922202611270009")
    assert page.goto(forged).status == 403
    expect(page.locator(".refused h2")).to_have_text("无法评价")
    expect(page.locator(".refused")).to_contain_text("二维码校验未通过")
    page.screenshot(path=str(OUT / "qr-04-forged.png"), full_page=True)
