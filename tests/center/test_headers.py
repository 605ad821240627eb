"""Security headers on every route's answer (center/web/headers.py), and
pages that need no inline script or style (the policy forbids them)."""
import re
from datetime import date, datetime

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from starlette.routing import Mount, Route

from center import samplework
from center.api import create_app
from center.ingest import ingest
from center.web.headers import CACHEABLE, CSP, with_security_headers
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import Clock, make_center, make_vote
from tests.support.web import login

SAMPLE = {"case_id": "1", "device_id": "tab-03", "path": "dashboard.css", "sample_id": "1",
          "item_id": "1", "flag_id": "1"}


@pytest.fixture
def center(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path,
                    clock=Clock(datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)))
    c.add_device("tab-03", "taojiang", "03")
    c.add_user("chen", "supervisor", "chen-pass-1")
    ingest(c, "tab-03", [make_vote("tab-03", 1, bad=True), make_vote("tab-03", 3)])
    samplework.make_draw(c, start=date(2026, 11, 1), end=date(2026, 11, 30), drawn_by="chen", share="1")
    yield c
    c.engine.dispose()


@pytest.fixture
def app(center):
    return create_app(center)


def assert_secure(r, what: str) -> None:
    h = r.headers
    assert h.get("content-security-policy") == CSP, what
    assert h.get("x-content-type-options") == "nosniff", what
    assert h.get("referrer-policy") == "same-origin", what
    assert h.get("x-frame-options") == "DENY", what
    if h.get("content-type", "").startswith("text/html"):
        if r.url.path in CACHEABLE and r.status_code == 200:     # the public page (test_public.py)
            assert h.get("cache-control", "").startswith("public, max-age="), what
        else:
            assert h.get("cache-control") == "no-store", what


def flat_routes(routes):
    """(path, route) for the app's routes, the routers it includes opened
    (their routes already carry the router's prefix in their path)."""
    for route in routes:
        included = getattr(route, "original_router", None)   # FastAPI's included router
        if included is not None:
            yield from flat_routes(included.routes)
        else:
            yield route.path, route


def requests_for_every_route(app):
    """(method, concrete path) for each route of the app, static mount included."""
    out = []
    for full, route in flat_routes(app.routes):
        if isinstance(route, Mount):
            out.append(("GET", full + "/" + SAMPLE["path"]))
            continue
        assert isinstance(route, (APIRoute, Route)), route
        path = re.sub(r"{(\w+)(:\w+)?}", lambda m: SAMPLE[m.group(1)], full)
        out += [(m, path) for m in sorted(route.methods - {"HEAD"})]
    return out


def test_policy_allows_no_inline_script_and_no_framing():
    assert "'unsafe-inline'" not in CSP and "'unsafe-eval'" not in CSP
    assert "frame-ancestors 'none'" in CSP and "script-src 'self'" in CSP
    assert "default-src 'none'" in CSP


def test_every_route_answers_with_the_security_headers(app):
    seen = requests_for_every_route(app)
    assert {p for _, p in seen} >= {"/login", "/cases", "/cases/1", "/stats", "/devices",
                                    "/comments", "/supervision", "/supervision/samples/1",
                                    "/export.csv", "/api/v1/votes", "/api/v1/health",
                                    "/openapi.json", "/static/dashboard.css"}
    for client in (TestClient(app), login(app, "chen", "chen-pass-1")):
        for method, path in seen:
            r = client.request(method, path, follow_redirects=False)
            assert_secure(r, f"{method} {path} -> {r.status_code}")


def test_only_the_public_page_may_be_cached():
    html = [(b"content-type", b"text/html; charset=utf-8"), (b"cache-control", b"public, max-age=60")]
    assert (b"cache-control", b"no-store") in with_security_headers(html)          # a dashboard page
    assert dict(with_security_headers(html))[b"cache-control"] == b"no-store"
    assert dict(with_security_headers(html, cacheable=True))[b"cache-control"] == b"public, max-age=60"
    bare = [(b"content-type", b"text/html")]                                       # its refusals
    assert dict(with_security_headers(bare, cacheable=True))[b"cache-control"] == b"no-store"
    css = [(b"content-type", b"text/css"), (b"cache-control", b"max-age=60")]
    assert dict(with_security_headers(css))[b"cache-control"] == b"max-age=60"


def test_error_answers_carry_them_too(app, center):
    cl = TestClient(app)
    assert_secure(cl.get("/no-such-page"), "404")
    big = cl.post("/api/v1/votes", content=b"x" * (center.cfg.max_body_bytes + 1),
                  headers={"content-type": "application/json"})
    assert big.status_code == 413
    assert_secure(big, "413 from the body limit")


def test_no_page_has_inline_script_style_or_event_handlers(app):
    cl = login(app, "chen", "chen-pass-1")
    for path in ("/login", "/cases", "/cases?show_closed=1", "/cases/1", "/stats",
                 "/devices", "/devices/tab-03/gaps", "/rectification", "/directory", "/comments",
                 "/supervision", "/supervision/samples/1", "/supervision/samples/1/audit",
                 "/report", "/report/print"):
        html = cl.get(path).text
        # a chart's data block (type application/json) is data the browser never runs
        assert not re.search(r'<script(?![^>]*\bsrc=)(?![^>]*type="application/json")[^>]*>', html), path
        for data in re.findall(r'<script type="application/json" id="[a-z-]+">(.*?)</script>', html, re.S):
            assert "<" not in data, path                   # tojson escapes <, so no </script> inside
        assert not re.search(r"<style\b|\sstyle=", html), path
        assert not re.search(r"\son[a-z]+\s*=", html, re.I), path
        assert '<script src="/static/dashboard.js" defer></script>' in html, path


def test_the_dashboard_script_and_style_sheet_are_served(app):
    cl = TestClient(app)
    js, css = cl.get("/static/dashboard.js"), cl.get("/static/dashboard.css")
    assert js.status_code == css.status_code == 200
    assert "setInterval(tick" in js.text and ".overdue" in css.text


def test_no_docs_pages_that_would_need_inline_script(app):
    assert TestClient(app).get("/docs").status_code == 404
    assert TestClient(app).get("/openapi.json").status_code == 200
