"""The dashboard in Debian's headless Chromium (Playwright), for the browser
tests of every dashboard area:

    def test_x(running_center, browser_page):
        browser_page.goto(running_center.url + "/cases")
"""
from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect, sync_playwright

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture
def browser_page():
    """A page; at the end, no console error (a CSP violation is one) may have appeared."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900}, locale="zh-CN")
            page.set_default_timeout(15000)
            errors, refused = [], []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("response", lambda r: refused.append((r.status, r.url.split("/", 3)[-1]))
                    if r.status >= 400 else None)
            yield page
            # the console reports each 4xx as a failed load: only the login form's and the favicon's
            assert {u for _, u in refused} <= {"login", "favicon.ico"}, refused
            assert [e for e in errors if not e.startswith("Failed to load resource")] == []
        finally:
            browser.close()


def log_in(page: Page, url: str, name: str, password: str) -> None:
    """Through the login form; lands on the open cases."""
    page.goto(url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page).to_have_url(url + "/cases")
