"""The public page's pure rules (center/disclosure.py): the month parameter,
the scan of a supervisor's public summary for personal numbers, the outcome
text, what a typical case shows, and the ETag comparison."""
from datetime import date, datetime
from types import SimpleNamespace

import pytest

from center.directory import from_mappings
from center.disclosure import (
    MAX_SUMMARY, MonthError, SummaryError, check_summary, etag_of, month_label, month_last,
    month_param, outcome, parse_month, personal_numbers, publishable, scrub_names, staff_name, typical_view,
)
from center.httpcache import etag_matches


@pytest.mark.parametrize("raw, first", [("2026-11", date(2026, 11, 1)), ("2024-02", date(2024, 2, 1)),
                                        (None, None), ("", None)])
def test_a_month_is_year_dash_two_digit_month(raw, first):
    assert parse_month(raw) == first


@pytest.mark.parametrize("raw", [
    "2026-13", "2026-00", "2026-1", "26-11", "2026/11", "2026-11-01", " 2026-11", "2026-11\n",
    "２０２６-１１",            # full-width digits: \d would take them, the rule does not
    "٢٠٢٦-١١",                 # Arabic-Indic digits
    "1999-12", "2101-01", "' OR 1=1 --", "2026-11" * 100, "<script>",
])
def test_anything_else_is_refused_with_a_clear_message(raw):
    with pytest.raises(MonthError, match="月份格式应为"):
        parse_month(raw)


def test_month_helpers():
    assert month_last(date(2024, 2, 1)) == date(2024, 2, 29)
    assert month_last(date(2026, 12, 1)) == date(2026, 12, 31)
    assert month_param(date(2026, 3, 1)) == "2026-03"
    assert month_label(date(2026, 3, 1)) == "2026年3月"


# ------------------------------------------------------------ personal numbers

@pytest.mark.parametrize("text, kind, found", [
    ("群众留下电话13812345678请回电", "phone", "13812345678"),
    ("电话 138-1234-5678", "phone", "138-1234-5678"),
    ("电话 138 1234 5678", "phone", "138 1234 5678"),
    ("座机0737-4221234", "phone", "0737-4221234"),
    ("座机4221234", "phone", "4221234"),
    ("全角１３８１２３４５６７８", "phone", "13812345678"),
    ("一三八一二三四五六七八", "phone", "一三八一二三四五六七八"),
    ("身份证430922199001011234", "id_card", "430922199001011234"),
    ("身份证43092219900101123X号", "id_card", "43092219900101123X"),
    ("身份证43092219900101123x", "id_card", "43092219900101123x"),
    ("旧证430922900101123", "id_card", "430922900101123"),
    ("卡号6222021234567890123", "number", "6222021234567890123"),
    ("办件编号2026112800017", "number", "2026112800017"),
    ("日期20261127", "phone", "20261127"),          # an unseparated date reads as a number: written 2026年11月27日
])
def test_phone_and_id_like_digit_runs_are_found(text, kind, found):
    assert [(f.kind, f.text) for f in personal_numbers(text)] == [(kind, found)]


@pytest.mark.parametrize("text", [
    "2026年11月27日办结，用时3天", "2026-11-27 当场办结", "2026.11.27", "2026/11/7",
    "2026-11-27 10:30 办结", "2026-11-27 至 2026-12-03",
    "退还费用 12,000 元", "窗口 03 号", "工号 1024", "上午 10:30 到 11:45", "123456 次",
    "第1、2、3项", "",
])
def test_dates_amounts_and_short_numbers_are_not(text):
    assert personal_numbers(text) == []


def test_a_separated_run_that_is_no_calendar_date_is_still_a_number():
    assert [f.kind for f in personal_numbers("2026-13-45")] == ["phone"]


def test_a_summary_with_a_phone_or_id_number_is_refused_naming_it():
    with pytest.raises(SummaryError, match="“138-1234-5678”疑似电话号码"):
        check_summary("群众电话 138-1234-5678，已回访")
    with pytest.raises(SummaryError, match="疑似身份证号"):
        check_summary("当事人 43092219900101123X 的材料已退回")


def test_a_summary_is_trimmed_and_bounded():
    assert check_summary("  中心督办后当日办结。\n") == "中心督办后当日办结。"
    with pytest.raises(SummaryError, match="请填写公开摘要"):
        check_summary("   ")
    with pytest.raises(SummaryError, match=f"最多 {MAX_SUMMARY} 字"):
        check_summary("办" * (MAX_SUMMARY + 1))
    with pytest.raises(SummaryError, match="控制字符"):
        check_summary("办结\x00")
    assert check_summary("第一行\n第二行") == "第一行\n第二行"


def test_the_citizens_own_words_may_not_be_copied():
    comment = "窗口人员态度恶劣，让我跑了三趟还没办成"
    with pytest.raises(SummaryError, match="不能照录群众的留言"):
        check_summary("群众反映：窗口人员态度恶劣，让我跑了三趟。已整改。", comments=[comment])
    with pytest.raises(SummaryError, match="不能照录"):
        check_summary("留言：排队两小时没人管", comments=["排队两小时没人管"])
    # the same subject in the supervisor's words is fine, and so is a short comment's word
    assert check_summary("群众反映多次往返未办成，中心督办后当日办结。", comments=[comment])
    assert check_summary("群众反映等了很久。", comments=["等了很久"])


def test_staff_names_and_ids_are_refused_when_they_are_not_published():
    with pytest.raises(SummaryError, match="不公开工作人员姓名.*李明"):
        check_summary("工作人员李明态度生硬", names=["李明"])
    with pytest.raises(SummaryError, match="不公开工作人员工号.*1024"):
        check_summary("工号1024的工作人员", ids=["1024"])
    assert check_summary("受理10240件", ids=["1024"])        # not the id: part of a number
    assert check_summary("工作人员态度生硬", names=["李明", ""], ids=["", "7"])


def test_scrub_names_replaces_every_name_longest_first():
    assert scrub_names("李明和李明华都在", ["李明", "李明华"]) == "工作人员和工作人员都在"
    assert scrub_names("没有名字", ["", " "]) == "没有名字"


# ------------------------------------------------------------ what is shown

def test_outcome_reads_for_the_public():
    assert outcome("closed", True, True, "none", "satisfied") == "已按时办结，已整改，群众二次评价：满意"
    assert outcome("closed", False, False, "rejected", None) == "已办结（超期）"
    assert outcome("verifying", None, False, "pending", None) == "办理中"
    assert outcome("closed", True, False, "upheld", None) == "经复核，差评不成立"


def test_a_notice_of_a_bad_review_that_did_not_stand_is_never_published():
    assert not publishable("notice", "upheld")
    assert publishable("commendation", "upheld") and publishable("notice", "rejected")


DIRECTORY = from_mappings([{"id": "d1", "name": "不动产登记中心"}],
                          [{"id": "03", "name": "不动产登记窗口", "department": "d1"}],
                          [{"id": "1024", "name": "王秀英", "window": "03"}])


def test_staff_rows_show_a_name_and_never_the_id():
    assert staff_name(DIRECTORY, ("1024",)) == "王秀英"
    assert staff_name(DIRECTORY, ("9999", "钱八")) == "钱八"
    assert staff_name(DIRECTORY, ("9999", "")) == "未登记"


def _typical(**over):
    row = dict(kind="notice", summary="王秀英处理不及时，中心督办后整改。", window_id="03", department="旧部门",
               voted_at=datetime(2026, 11, 30, 17, 0), state="closed", on_time=True,
               rectified_at=datetime(2026, 12, 1), appeal="none", second_rating=None,
               staff_id="1024", staff_name="王秀英", matter_name="不动产登记")
    row.update(over)
    return SimpleNamespace(**row)


def test_a_typical_case_shows_only_its_public_fields():
    v = typical_view(_typical(), DIRECTORY, staff_names=False)
    assert set(v) == {"kind", "kind_label", "department", "window", "matter", "month", "summary", "outcome"}
    assert v["kind_label"] == "通报" and v["department"] == "不动产登记中心"
    assert v["window"] == "03 不动产登记窗口" and v["matter"] == "不动产登记"
    assert v["month"] == "2026年12月"             # 17:00 UTC on Nov 30 is Dec 1 in the hall
    assert v["summary"] == "工作人员处理不及时，中心督办后整改。"
    assert v["outcome"] == "已按时办结，已整改"
    assert "王秀英" in typical_view(_typical(), DIRECTORY, staff_names=True)["summary"]
    assert typical_view(_typical(appeal="upheld"), DIRECTORY, staff_names=False) is None
    entry = typical_view(_typical(window_id="", department="", matter_name=None, staff_id=""), DIRECTORY,
                         staff_names=False)
    assert (entry["window"], entry["department"], entry["matter"]) == ("—", "—", "—")


def test_etags_are_strong_and_compared_weakly():
    tag = etag_of(b"page")
    assert tag.startswith('"') and tag.endswith('"') and tag != etag_of(b"page2")
    assert etag_matches(tag, tag) and etag_matches(f'"x", W/{tag}', tag) and etag_matches("*", tag)
    assert not etag_matches(None, tag) and not etag_matches('"x"', tag) and not etag_matches("", tag)
