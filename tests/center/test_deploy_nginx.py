"""The shipped deployment (docs/deploy-nginx.md): Debian's nginx with
config/nginx/hall-center.conf in front of two real `hall-center serve`
instances on one PostgreSQL, all on loopback ports.

- `nginx -t` accepts the shipped site; its body limit is the center's;
  the two-instance center config loads;
- through nginx over TLS: health, the HTTP-to-HTTPS redirect, tablets'
  batches served by both instances, a login and its pages, a body over the
  limit refused with the API's JSON error;
- one instance killed: tablets' posts and the health check still succeed
  (nginx passes the request to the other instance).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
import requests

from center.config import load_config
from hallcore.hallclock import DEFAULT_TZ
from hallcore.packagedata import CONFIG, shipped
from tests.support.center import free_port, make_vote
from tests.support.certs import make_pki
from tests.support.nginx import SHIPPED_SITE, check, running_nginx, site_for_test, write_config
from tests.support.web import csrf_of

TWO_INSTANCES = shipped(CONFIG, "center.two-instances.toml")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return make_pki(tmp_path_factory.mktemp("pki"))


def test_nginx_accepts_the_shipped_site(tmp_path, pki):
    site = site_for_test(SHIPPED_SITE.read_text(), [free_port(), free_port()], free_port(), free_port(), pki)
    out = check(write_config(tmp_path / "nginx", site))
    assert out.returncode == 0, out.stderr


def test_nginx_refuses_a_broken_site(tmp_path, pki):
    """The check above can fail: a site with a typo does not pass."""
    site = site_for_test(SHIPPED_SITE.read_text(), [free_port(), free_port()], free_port(), free_port(), pki)
    out = check(write_config(tmp_path / "nginx", site.replace("proxy_pass", "proxy_passs", 1)))
    assert out.returncode != 0 and "proxy_passs" in out.stderr


def test_the_shipped_body_limit_is_the_centers(tmp_path):
    site = SHIPPED_SITE.read_text()
    (size,) = re.findall(r"^\s*client_max_body_size (\d+)m;", site, flags=re.M)
    cfg = load_config(TWO_INSTANCES)
    assert cfg.max_body_bytes == int(size) * 2**20 == load_config(
        shipped(CONFIG, "center.example.toml")).max_body_bytes
    assert f"request body over {cfg.max_body_bytes} bytes" in site
    assert cfg.database.startswith("postgresql+psycopg://") and cfg.secure_cookies
    assert cfg.host == "127.0.0.1" and cfg.alerts.lease_s == 120


def post(url: str, token: str, device: str, votes: list[dict], **kw) -> requests.Response:
    return requests.post(url + "/api/v1/votes", headers={"Authorization": f"Bearer {token}"},
                         json={"device_id": device, "votes": votes}, timeout=60, **kw)


def test_nginx_in_front_of_two_instances_balances_and_fails_over(center_instances, tmp_path, pki):
    fleet = center_instances(2)
    a, b = fleet.centers
    token = fleet.enroll(["tab-01"])["tab-01"]
    a.add_user("chen", "supervisor", "Correct-Horse-9")
    http_port, https_port = free_port(), free_port()
    site = site_for_test(SHIPPED_SITE.read_text(), [a.port, b.port], http_port, https_port, pki)
    now = datetime.now(DEFAULT_TZ) - timedelta(minutes=5)
    votes = [make_vote("tab-01", s, bad=s % 4 == 0, at=now + timedelta(seconds=s)) for s in range(1, 61)]
    with running_nginx(tmp_path / "nginx", site, http_port, https_port) as ng:
        ca = str(pki.ca)
        assert requests.get(ng.https + "/api/v1/health", verify=ca, timeout=10).json() == {"ok": True}
        r = requests.get(ng.http + "/cases", allow_redirects=False, timeout=10)
        assert r.status_code == 301 and r.headers["location"] == "https://127.0.0.1/cases"

        for i in range(0, 30, 5):                             # tablets' batches, round robin
            r = post(ng.https, token, "tab-01", votes[i:i + 5], verify=ca)
            assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {"stored"}
        served = {line.split()[-1] for line in ng.access_log() if " /api/v1/votes 200 " in line}
        assert served == {f"127.0.0.1:{a.port}", f"127.0.0.1:{b.port}"}

        with requests.Session() as s:                       # the dashboard through nginx
            form = s.get(ng.https + "/login", verify=ca, timeout=10)
            r = s.post(ng.https + "/login", data={"name": "chen", "password": "Correct-Horse-9",
                                                  "csrf": csrf_of(form.text)}, allow_redirects=False,
                       verify=ca, timeout=30)
            assert r.status_code == 303
            for _ in range(4):
                page = s.get(ng.https + "/cases", allow_redirects=False, verify=ca, timeout=10)
                assert page.status_code == 200 and "chen" in page.text
        pages = {line.split()[-1] for line in ng.access_log() if line.startswith("GET /cases 200 ")}
        assert pages == served                              # the session holds on both instances

        big = {"device_id": "tab-01", "votes": [], "pad": "x" * (3 * 2**20)}
        r = requests.post(ng.https + "/api/v1/votes", headers={"Authorization": f"Bearer {token}"},
                          json=big, verify=ca, timeout=30)
        assert r.status_code == 413 and r.json()["error"] == "body_too_large"

        a.kill()                                            # SIGKILL: nginx finds out on its own
        for i in range(30, 60, 5):
            r = post(ng.https, token, "tab-01", votes[i:i + 5], verify=ca)
            assert r.status_code == 200 and {x["status"] for x in r.json()["results"]} == {"stored"}
        for _ in range(3):
            assert requests.get(ng.https + "/api/v1/health", verify=ca, timeout=10).status_code == 200
        r = post(ng.https, token, "tab-01", votes[:10], verify=ca)       # a tablet's retry: duplicates
        assert [x["status"] for x in r.json()["results"]] == ["duplicate"] * 10
        # nginx tried the dead instance, then passed the same POST on to the live one
        passed_on = [line for line in ng.access_log()
                     if f"127.0.0.1:{a.port}, 127.0.0.1:{b.port}" in line and " 200 " in line]
        assert any(line.startswith("POST /api/v1/votes 200 ") for line in passed_on), ng.access_log()[-12:]
    assert fleet.scalar("SELECT count(*) FROM records") == 60
    assert fleet.scalar("SELECT count(*) FROM cases") == 15
