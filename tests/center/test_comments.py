"""综合点评 entries (center/comments.py): the form checked into a clean entry
or errors by field; a negative one becomes a case due by the calendar from
when the hall received it."""
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from center.cases import CaseView, available
from center.comments import case_fields, case_note, check_comment
from center.deadlines import Deadlines
from center.directory import parse_toml
from tests.support.paths import CONFIG

CST = timezone(timedelta(hours=8))
NOW = datetime(2026, 11, 30, 10, 0, tzinfo=CST)
DIRECTORY = parse_toml((CONFIG / "directory.example.toml").read_text(encoding="utf-8"))


def form(**kw):
    base = {"source": "hotline", "verdict": "差评", "text": "  不动产窗口让我跑了三次  ",
            "received_at": "2026-11-27T15:00", "window_id": "03"}
    base.update(kw)
    return base


def test_a_complete_form_gives_a_clean_entry():
    r = check_comment(form(matter_name="不动产登记", contact_phone="13812345678"), now=NOW)
    assert r.errors == {}
    assert r.clean == {"source": "hotline", "verdict": "bad", "negative": True, "text": "不动产窗口让我跑了三次",
                       "received_at": datetime(2026, 11, 27, 15, 0, tzinfo=CST), "department": None,
                       "window_id": "03", "matter_code": None, "matter_name": "不动产登记",
                       "contact_phone": "13812345678"}


@pytest.mark.parametrize("given_,expected", [("box", "box"), ("意见箱", "box"), ("形象监督员", "monitor"),
                                             ("热线电话", "hotline")])
def test_sources_by_value_or_label(given_, expected):
    assert check_comment(form(source=given_), now=NOW).clean["source"] == expected


@pytest.mark.parametrize("verdict,negative", [("好评", False), ("中评", False), ("差评", True),
                                              ("good", False), ("neutral", False), ("bad", True)])
def test_only_a_bad_verdict_is_negative(verdict, negative):
    assert check_comment(form(verdict=verdict), now=NOW).clean["negative"] is negative


def test_every_bad_field_is_named_with_its_reason():
    r = check_comment({"source": "wechat", "verdict": "一般", "text": " ", "received_at": "昨天",
                       "contact_phone": "0737-1234567", "window_id": 3, "colour": "red"}, now=NOW)
    assert r.clean is None
    assert r.errors == {
        "source": "请选择来源：意见箱、热线电话、形象监督员",
        "verdict": "请选择评价：好评、中评或差评",
        "text": "请填写点评内容",
        "received_at": "请填写收到时间，如 2026-11-27 15:00",
        "contact_phone": "请填写 11 位手机号码，或留空",
        "window_id": "窗口应为文字",
        "colour": "未知的字段",
    }


def test_text_and_ids_are_bounded():
    r = check_comment(form(text="长" * 2001, matter_name="x" * 201), now=NOW)
    assert r.errors == {"text": "点评内容过长（最多 2000 字）", "matter_name": "事项名称过长（最多 200 字）"}
    assert check_comment(form(text="长" * 2000), now=NOW).errors == {}


def test_the_received_time_is_hall_time_not_in_the_future_nor_a_year_back():
    assert check_comment(form(received_at="2026-11-30T10:01"), now=NOW).errors == {
        "received_at": "收到时间不能晚于现在"}
    assert check_comment(form(received_at="2025-11-01T10:00"), now=NOW).errors == {
        "received_at": "收到时间早于一年前，请核对"}
    utc = check_comment(form(received_at="2026-11-27T07:00:00+00:00"), now=NOW).clean
    assert utc["received_at"] == datetime(2026, 11, 27, 15, 0, tzinfo=CST)
    aware = datetime(2026, 11, 28, 9, 0, tzinfo=CST)
    assert check_comment(form(received_at=aware), now=NOW).clean["received_at"] == aware


def test_with_the_directory_the_window_must_be_known_and_gives_the_department():
    assert check_comment(form(), now=NOW, directory=DIRECTORY).clean["department"] == "bdc"
    assert check_comment(form(window_id="07"), now=NOW, directory=DIRECTORY).errors == {
        "window_id": "窗口 07 不在目录中"}
    assert check_comment(form(department="ga"), now=NOW, directory=DIRECTORY).errors == {
        "department": "窗口 03 属于部门 bdc，不属于 ga"}
    only_dep = form(window_id="", department="ybj")
    assert check_comment(only_dep, now=NOW, directory=DIRECTORY).clean["window_id"] is None
    assert check_comment(form(window_id=None, department="xx"), now=NOW, directory=DIRECTORY).errors == {
        "department": "部门 xx 不在目录中"}


def test_a_negative_entry_opens_a_case_due_two_working_days_after_it_was_received():
    deadlines = Deadlines()
    clean = check_comment(form(), now=NOW, directory=DIRECTORY).clean
    fields = case_fields(clean, handling_due=deadlines.handling)
    received = datetime(2026, 11, 27, 15, 0, tzinfo=CST)      # a Friday, entered on Monday
    assert fields == {"source": "comment", "window_id": "03", "department": "bdc", "staff_id": "",
                      "matter_code": "", "state": "new", "voted_at": received,
                      "due_at": datetime(2026, 12, 1, 17, 30, tzinfo=CST), "calendar_verified": True,
                      "appeal": "none", "due_alerted": False, "escalated": False}
    assert fields["due_at"] == deadlines.handling(received).due_at
    assert case_note(clean) == "综合点评（热线电话）：不动产窗口让我跑了三次"
    # the case then runs like a tablet's 差评
    view = CaseView(state=fields["state"], window_id=fields["window_id"], due_at=fields["due_at"])
    from center.cases import Actor
    assert "verify" in available(view, Actor("wang", "handler", "03"))


def test_an_entry_without_a_window_is_the_supervisors_case():
    from center.cases import Actor
    clean = check_comment(form(window_id=None, department="ga"), now=NOW).clean
    fields = case_fields(clean, handling_due=Deadlines().handling)
    assert fields["window_id"] == "" and fields["department"] == "ga"
    view = CaseView(state="new", window_id="", due_at=fields["due_at"])
    assert available(view, Actor("wang", "handler", "03")) == []
    assert "verify" in available(view, Actor("chen", "supervisor"))


def test_a_good_or_neutral_entry_opens_no_case():
    for verdict in ("好评", "中评"):
        clean = check_comment(form(verdict=verdict), now=NOW).clean
        with pytest.raises(ValueError, match="only a negative entry"):
            case_fields(clean, handling_due=Deadlines().handling)


def test_a_long_text_is_shortened_in_the_log_line():
    clean = check_comment(form(text="长" * 100, source="box"), now=NOW).clean
    assert case_note(clean) == "综合点评（意见箱）：" + "长" * 60 + "…"


@given(st.dictionaries(st.sampled_from(["source", "verdict", "text", "received_at", "window_id",
                                        "department", "contact_phone", "junk"]),
                       st.one_of(st.none(), st.text(max_size=30), st.integers(),
                                 st.lists(st.text(max_size=3), max_size=2))))
def test_any_form_gives_a_clean_entry_or_errors_never_both_never_an_exception(data):
    r = check_comment(data, now=NOW)
    assert (r.clean is None) != (r.errors == {})
    if r.clean:
        assert r.clean["text"] and r.clean["received_at"] <= NOW
