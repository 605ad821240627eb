"""The push's status: the supervisors' /upstream page and `hall-center upstream`
(preview, status, backfill), against the reference receiver."""
from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from center import upstreamwork
from center.api import create_app
from center.cli import main
from center.config import load_config
from center.ingest import ingest
from center.service import Center
from center.web.upstream import shown_url
from tests.support.center import API_NOW, Clock, make_center, make_vote, write_config
from tests.support.province import HUNAN
from tests.support.receiver import ProvinceReceiver
from tests.support.web import login

from .test_upstreamwork import settings


@pytest.fixture
def province():
    with ProvinceReceiver() as p:
        yield p


@pytest.fixture
def center(tmp_path, province):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(API_NOW),
                    upstream=settings(province))
    c.add_device("tab-03", "taojiang", "03")
    c.add_user("chen", "supervisor", "chen-pass-1")
    c.add_user("wang", "handler", "wang-pass-1", "03")
    yield c
    c.engine.dispose()


def test_the_page_shows_backlog_last_error_refusals_and_failing_items(center, province):
    ingest(center, "tab-03", [make_vote("tab-03", i) for i in range(1, 4)]
           + [make_vote("tab-03", 4, unrated=True), make_vote("tab-03", 5, case_no=None)])
    province.down(503)
    upstreamwork.forward(center)
    center.clock.advance(minutes=90)
    page = login(create_app(center), "chen", "chen-pass-1").get("/upstream")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/upstream">省平台上报</a>' in html
    assert re.search(r'id="backlog"[^>]*>3 条（评价 3）', html)
    assert "已等待 1 小时 30 分钟" in html
    assert "HTTP 503" in html and "系统繁忙" in html and "（仍在重试）" in html
    assert re.search(r'data-why="unrated"><td>[^<]+</td><td>1</td><td[^>]*>1</td>', html)
    assert re.search(r'data-why="no_case_no"><td>[^<]+</td><td>1</td><td class="warn">1</td>', html)
    assert "evaluation:CN000001:1" in html and "1 次" in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+\s*=", html)

    province.up()
    center.clock.advance(minutes=5)
    for _ in range(5):
        upstreamwork.forward(center)
    html = login(create_app(center), "chen", "chen-pass-1").get("/upstream").text
    assert re.search(r'id="backlog"[^>]*>0 条', html) and 'id="sent-today">3 条' in html
    assert "（此条随后已上报）" in html and "没有失败的条目" in html


def test_only_supervisors_see_the_page(center):
    app = create_app(center)
    r = login(app, "wang", "wang-pass-1").get("/upstream")
    assert r.status_code == 403 and "仅供中心督办人员使用" in r.text
    assert '<a href="/upstream">' not in login(app, "wang", "wang-pass-1").get("/cases").text
    r = TestClient(app).get("/upstream", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/login"


def test_a_center_without_upstream_says_so(tmp_path):
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=Clock(API_NOW))
    c.add_user("chen", "supervisor", "chen-pass-1")
    html = login(create_app(c), "chen", "chen-pass-1").get("/upstream").text
    assert 'id="not-configured"' in html and "评价不上报省平台" in html
    c.engine.dispose()


def test_the_shown_address_drops_credentials_and_query():
    assert shown_url("https://user:pw@hcp.example.gov.cn:8443/api/eval?token=s3cret") == \
        "https://hcp.example.gov.cn:8443/api/eval"


# ------------------------------------------------------------------ the CLI

def record_file(tmp_path, **over):
    path = tmp_path / "record.json"
    path.write_text(json.dumps(make_vote("tab-03", 1, **over), ensure_ascii=False), encoding="utf-8")
    return path


def test_preview_prints_what_the_province_would_receive(tmp_path, capsys):
    assert main(["upstream", "preview", str(record_file(tmp_path, bad=True)), "--profile", "hunan-example",
                 "--rectification", "已整改", "--rectified-at", "2026-11-28T10:00:00+08:00"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["evaluation"]["key"] == "evaluation:CN000001:1"
    ev = out["evaluation"]["payload"]
    assert (ev["satisfaction"], ev["pf"], ev["assessTime"], ev["evalDetail"]) == (2, 4, "2026-11-27 15:00:00", "4")
    assert out["rectification"]["payload"]["rectifyTime"] == "2026-11-28 10:00:00"


def test_preview_with_the_config_uses_its_profile_and_department(tmp_path, capsys, province):
    cfg = write_config(tmp_path, str(tmp_path / "c.sqlite3"))
    with cfg.open("a", encoding="utf-8") as f:
        f.write(f'\n[upstream]\nurl = "{province.url()}"\nprofile = "hunan-example"\n')
    assert main(["upstream", "preview", str(record_file(tmp_path, rating="basically_satisfied")),
                 "--config", str(cfg)]) == 0
    ev = json.loads(capsys.readouterr().out)["evaluation"]["payload"]
    assert (ev["satisfaction"], ev["proDepart"]) == (3, "不动产登记")


@pytest.mark.parametrize("content,message", [
    (None, "cannot read"),
    (b"{not json", "is not JSON"),
    (b"\xff\xfe", "is not UTF-8"),
    (b"[1, 2]", "holds a JSON list, not a record"),
    (b'{"id": "x"}', "is not a valid record: "),
])
def test_preview_names_what_is_wrong_with_the_file(tmp_path, capsys, content, message):
    path = tmp_path / "r.json"
    if content is not None:
        path.write_bytes(content)
    assert main(["upstream", "preview", str(path), "--profile", "hunan-example"]) == 2
    assert message in capsys.readouterr().err


def test_preview_of_a_record_that_does_not_go_up_says_why(tmp_path, capsys):
    assert main(["upstream", "preview", str(record_file(tmp_path, unrated=True)), "--profile", "hunan-example"]) == 1
    assert "does not go to the province (unrated)" in capsys.readouterr().err
    path = record_file(tmp_path, bad=True, reasons=["窗口太冷"])
    mine = tmp_path / "strict.toml"                          # the shipped profile without other_reason
    mine.write_text(re.sub(r'(?m)^other_reason = .*$', "", HUNAN.read_text(encoding="utf-8")), encoding="utf-8")
    assert main(["upstream", "preview", str(path), "--profile", str(mine)]) == 1
    assert "cannot map this record: reason '窗口太冷' has no code" in capsys.readouterr().err
    assert main(["upstream", "preview", str(path)]) == 2
    assert "give --config" in capsys.readouterr().err


def test_status_and_backfill_commands(tmp_path, capsys, province):
    db = tmp_path / "c.sqlite3"
    cfg = write_config(tmp_path, str(db))
    c = Center(load_config(cfg))
    c.migrate()
    c.add_device("tab-03", "taojiang", "03")
    ingest(c, "tab-03", [make_vote("tab-03", 1), make_vote("tab-03", 2, unrated=True)])   # upstream off
    c.engine.dispose()
    assert main(["upstream", "backfill", "--config", str(cfg), "--from", "2026-11-01"]) == 2
    assert "[upstream] is not configured" in capsys.readouterr().err
    with cfg.open("a", encoding="utf-8") as f:
        f.write(f'\n[upstream]\nurl = "{province.url()}"\nprofile = "hunan-example"\ntimeout_s = 1\n')
    assert main(["upstream", "backfill", "--config", str(cfg), "--from", "2026-11-01"]) == 0
    assert "2 stored records from 2026-11-01 on: 1 evaluations queued" in capsys.readouterr().out
    assert main(["upstream", "status", "--config", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert f"forwarding to {province.url()} (profile hunan-example)" in out and "backlog: 1 (评价 1)" in out
    province.down()
    c = Center(load_config(cfg))
    upstreamwork.forward(c)
    c.engine.dispose()
    assert main(["upstream", "status", "--config", str(cfg)]) == 1          # failing: for monitoring
    out = capsys.readouterr().out
    assert "last error: " in out and "evaluation:CN000001:1 HTTP 500: 系统繁忙 (still retrying)" in out
    assert "failing: evaluation:CN000001:1 (评价) 1 attempts" in out
