"""The citizen's QR rating page (center/web/qr.py, center/qrpage.py), on SQLite and PostgreSQL."""
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from center.api import create_app
from center.cli import main as cli_main
from center.db import cases, qr_ratings, records
from center.export import export_row
from center.qrcheck import QrFields, build_url, format_secrets, make_code
from tests.support.center import API_NOW, Clock, make_center, make_vote, post_votes, api_client

SECRET = bytes(range(32))


def url(case_no="430922202611270001", matters=("GA001", "RS-012"), n=1, secret=SECRET):
    f = QrFields("taojiang", case_no, tuple(matters), n)
    return build_url("/r", f, make_code(secret, f))


@pytest.fixture
def qr_center(db_url, tmp_path):
    secrets = tmp_path / "qr-secrets.toml"
    secrets.write_text(format_secrets({"taojiang": [SECRET]}))
    c = make_center(db_url, tmp_path, clock=Clock(API_NOW), qr_secrets_file=secrets, region_code="430922")
    yield c
    c.engine.dispose()


@pytest.fixture
def phone(qr_center):
    with TestClient(create_app(qr_center)) as client:
        yield client


def test_page_lists_each_matter_with_its_name_from_the_stored_records(qr_center, phone):
    with api_client(qr_center) as tablet:
        post_votes(tablet, [make_vote("tab-03", 1, case_no="430922202611270001", matter=("GA001", "户籍迁移"),
                                      unrated=True)])
    r = phone.get(url())
    assert r.status_code == 200
    assert "户籍迁移" in r.text and "RS-012" in r.text and r.text.count("提交评价") == 2
    assert "script-src 'self'" in r.headers["content-security-policy"]


def test_rating_is_stored_once_as_a_qr_record(qr_center, phone):
    u = url()
    r = phone.post(u, data={"matter": "GA001", "rating": "satisfied"})
    assert r.status_code == 200 and "感谢您的评价" in r.text and r.text.count("已评价") == 1
    again = phone.post(u, data={"matter": "GA001", "rating": "dissatisfied", "reasons": ["拖拉推诿"]})
    assert again.status_code == 409 and "已经评价过" in again.text
    with qr_center.engine.connect() as conn:
        bodies = list(conn.execute(select(records.c.body)).scalars())
        assert conn.execute(select(qr_ratings.c.record_id)).scalars().all() == [bodies[0]["id"]]
    assert len(bodies) == 1
    rec = bodies[0]
    assert (rec["channel"], rec["device_id"], rec["seq"], rec["case_no"], rec["matter_code"], rec["rating"]) \
        == ("qr", "qr:taojiang", 1, "430922202611270001", "GA001", "satisfied")
    assert export_row(rec, "x", None)["评价渠道"] == "二维码"


def test_a_bad_rating_needs_a_reason_and_opens_a_case(qr_center, phone):
    u = url()
    r = phone.post(u, data={"matter": "RS-012", "rating": "dissatisfied"})
    assert r.status_code == 422 and "至少勾选一项原因" in r.text
    r = phone.post(u, data={"matter": "RS-012", "rating": "dissatisfied", "reasons": ["拖拉推诿", "不存在的原因"]})
    assert r.status_code == 200
    with qr_center.engine.connect() as conn:
        case = conn.execute(select(cases)).one()
        body = conn.execute(select(records.c.body)).scalar_one()
    assert case.record_id == body["id"] and body["reasons"] == ["拖拉推诿"]


@pytest.mark.parametrize("change", [
    lambda u: u.replace("430922202611270001", "430922202611270002"),      # another 办件
    lambda u: u.replace("GA001,RS-012", "GA001"),                          # a matter dropped
    lambda u: u[:-1] + ("A" if u[-1] != "A" else "B"),                     # the code itself
    lambda u: u.replace("h=taojiang", "h=liuyang"),                        # a hall without a secret
])
def test_forged_or_altered_code_is_refused_403_in_chinese(phone, change):
    for r in (phone.get(change(url())), phone.post(change(url()), data={"matter": "GA001", "rating": "satisfied"})):
        assert r.status_code == 403 and "二维码校验未通过" in r.text


def test_a_code_under_another_secret_or_malformed_is_refused(phone):
    assert phone.get(url(secret=b"x" * 32)).status_code == 403
    r = phone.get("/r?h=taojiang&k=AAAAAAAAAAAAAAAA")
    assert r.status_code == 403 and "缺少办件编号" in r.text


def test_a_matter_not_on_the_code_is_refused(phone):
    r = phone.post(url(), data={"matter": "OTHER", "rating": "satisfied"})
    assert r.status_code == 409 and "没有这个事项" in r.text


def test_second_evaluation_needs_a_first_and_rectification(phone):
    second = url(n=2)
    r = phone.post(second, data={"matter": "GA001", "rating": "satisfied"})
    assert r.status_code == 409 and "请先完成首次评价" in r.text
    phone.post(url(), data={"matter": "GA001", "rating": "dissatisfied", "reasons": ["拖拉推诿"]})
    r = phone.post(second, data={"matter": "GA001", "rating": "satisfied"})
    assert r.status_code == 409 and "整改完成后才能进行二次评价" in r.text


def test_after_rectification_the_second_evaluation_is_the_cases_and_happens_once(qr_center, phone):
    from center import casework
    from center.cases import Actor
    from center.db import second_evaluations
    phone.post(url(), data={"matter": "GA001", "rating": "dissatisfied", "reasons": ["拖拉推诿"]})
    with qr_center.engine.connect() as conn:
        case_id = conn.execute(select(cases.c.id)).scalar_one()
        first_id = conn.execute(select(records.c.id)).scalar_one()
    casework.act(qr_center, case_id, "rectify", Actor("chen", "supervisor"), note="窗口已补充一次性告知清单")
    second = url(n=2)
    r = phone.post(second, data={"matter": "GA001", "rating": "satisfied"})
    assert r.status_code == 200, r.text
    with qr_center.engine.connect() as conn:
        row = conn.execute(select(second_evaluations)).one()
        case = conn.execute(select(cases)).one()
        assert conn.execute(select(records.c.id)).scalars().all() == [first_id]   # not a second record
        assert conn.execute(select(qr_ratings.c.evaluation_no).order_by(qr_ratings.c.id)).scalars().all() == [1, 2]
    assert (row.case_id, row.first_record_id, row.evaluation_no, row.channel, row.rating) == \
        (case_id, first_id, 2, "qr", "satisfied")
    assert case.second_evaluated and case.second_channel == "qr"
    again = phone.post(second, data={"matter": "GA001", "rating": "dissatisfied", "reasons": ["拖拉推诿"]})
    assert again.status_code == 409


def test_a_tablet_rating_of_the_matter_counts_as_the_first_evaluation(qr_center, phone):
    with api_client(qr_center) as tablet:
        post_votes(tablet, [make_vote("tab-03", 1, case_no="430922202611270001", matter=("GA001", "户籍迁移"))])
    r = phone.post(url(), data={"matter": "GA001", "rating": "satisfied"})
    assert r.status_code == 409


def test_qr_secret_command_writes_a_private_file_and_keeps_old_secrets(tmp_path, capsys):
    cfg = tmp_path / "center.toml"
    cfg.write_text('[center]\ndatabase = "c.sqlite3"\n[qr]\nsecrets_file = "qr.toml"\n')
    assert cli_main(["qr-secret", "--config", str(cfg), "taojiang"]) == 0
    first = capsys.readouterr().out.splitlines()[2]
    assert cli_main(["qr-secret", "--config", str(cfg), "taojiang"]) == 0
    second = capsys.readouterr().out.splitlines()[2]
    from center.qrpage import load_secrets
    assert load_secrets(tmp_path / "qr.toml") == {"taojiang": (bytes.fromhex(second), bytes.fromhex(first))}
    assert (tmp_path / "qr.toml").stat().st_mode & 0o777 == 0o600
