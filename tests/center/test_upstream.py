"""The push to the provincial platform, pure parts (center/upstream.py): the
province profile and its checks, every satisfaction code both ways, channel
codes, hall time, messages and keys, reading answers, retrying forever."""
import copy
import tomllib
from datetime import datetime, timedelta, timezone

import pytest

from center.upstream import (
    DEFAULT_CHANNELS, NotUploaded, Outcome, Province, Rectification, Retry, UpstreamError,
    UpstreamSettings, after_attempt, classify, default_satisfaction, evaluation, level_of, messages,
    preview, profile_path, rectification_message, satisfaction_code, shipped_profile, strftime_pattern,
)
from center.channels import VALUES as CHANNELS
from hallcore.config import ConfigError, Table
from hallcore.hallclock import DEFAULT_TZ, set_hall_zone, zone_named
from hallcore.record import DEFAULT_BAD_REVIEW_REASONS, SCALES
from tests.support.center import make_vote

HUNAN = shipped_profile("hunan-example")
T = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
# Written out, not computed: the province's code for every level (DESIGN §8.2).
PROVINCE_CODES = {
    3: {"satisfied": 4, "basically_satisfied": 3, "dissatisfied": 2},
    5: {"very_satisfied": 5, "satisfied": 4, "basically_satisfied": 3, "dissatisfied": 2,
        "very_dissatisfied": 1},
}


def raw():
    with HUNAN.open("rb") as f:
        return tomllib.load(f)


def profile(data=None, **top):
    data = copy.deepcopy(raw() if data is None else data)
    data.update(top)
    return Province.from_table(Table(data, source="p.toml"))


def vote(scale=3, rating="satisfied", **over):
    bad = SCALES[scale].level(rating).bad
    return make_vote("tj-03", 7, at=T, bad=bad, rating=rating, scale_size=scale, **over)


@pytest.fixture(scope="module")
def hunan():
    return Province.load(HUNAN)


# ------------------------------------------------------------------ satisfaction codes

@pytest.mark.parametrize("scale,rating", [(s, r) for s in PROVINCE_CODES for r in PROVINCE_CODES[s]])
def test_every_level_maps_to_the_province_s_code_and_back(hunan, scale, rating):
    code = PROVINCE_CODES[scale][rating]
    rec = vote(scale, rating)
    assert satisfaction_code(rec, hunan) == code
    assert evaluation(rec, hunan).payload["satisfaction"] == code
    assert level_of(code, scale, hunan) == SCALES[scale].level(rating).label
    # a profile without [satisfaction] uses the same defaults (6 − 满意度代码)
    data = raw()
    del data["satisfaction"]
    assert satisfaction_code(rec, profile(data)) == code


def test_the_three_level_scale_is_four_three_two():
    assert default_satisfaction()[3] == {"满意": 4, "基本满意": 3, "不满意": 2}
    assert default_satisfaction()[5] == {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1}


def test_a_record_whose_code_does_not_match_its_rating_is_refused(hunan):
    with pytest.raises(UpstreamError, match="satisfaction_code=4 does not match rating 'satisfied'"):
        satisfaction_code({**vote(), "satisfaction_code": 4}, hunan)
    with pytest.raises(UpstreamError, match="rating"):
        satisfaction_code({**vote(), "rating": "great"}, hunan)
    with pytest.raises(UpstreamError, match="not on the 3-level scale"):
        level_of(5, 3, hunan)


def test_a_shared_code_the_missing_break_bug_is_refused():
    data = raw()
    data["satisfaction"]["3"]["基本满意"] = 2
    with pytest.raises(ConfigError, match=r"satisfaction\.3\.基本满意: two levels share code 2"):
        profile(data)


def test_codes_out_of_the_scale_s_order_or_missing_or_unknown_are_refused():
    data = raw()
    data["satisfaction"]["5"].update({"满意": 3, "基本满意": 4})
    with pytest.raises(ConfigError, match=r"satisfaction\.5\.非常满意: codes .* are not in the scale's order"):
        profile(data)
    data = raw()
    del data["satisfaction"]["3"]["不满意"]
    with pytest.raises(ConfigError, match=r"satisfaction\.3\.不满意: is missing"):
        profile(data)
    data = raw()
    data["satisfaction"]["3"]["很满意"] = 5
    with pytest.raises(ConfigError, match=r"satisfaction\.3\.很满意: is not a level of the 3-level scale"):
        profile(data)
    data = raw()
    data["satisfaction"]["4"] = {"满意": 1}
    with pytest.raises(ConfigError, match=r"satisfaction\.4: is not a scale"):
        profile(data)


def test_a_province_that_counts_the_other_way_is_accepted():
    data = raw()
    data["satisfaction"]["3"] = {"满意": "1", "基本满意": "2", "不满意": "3"}
    p = profile(data)
    assert satisfaction_code(vote(3, "basically_satisfied"), p) == "2"      # kept as written
    assert level_of(3, 3, p) == "不满意"


# ------------------------------------------------------------------ channels

def test_channel_codes_of_the_shipped_profile(hunan):
    assert hunan.channels == {"pc": 1, "mobile": 2, "qr": 3, "hall_tablet": 4, "hall_terminal": 5,
                              "phone": 6, "sms": 7} == DEFAULT_CHANNELS
    assert set(hunan.channels) == set(CHANNELS)
    assert evaluation(vote(), hunan).payload["pf"] == 4
    for channel, code in DEFAULT_CHANNELS.items():
        assert evaluation({**vote(), "channel": channel}, hunan).payload["pf"] == code


def test_a_channel_without_a_code_waits_with_a_clear_error():
    data = raw()
    data["channels"] = {"hall_tablet": 4}
    with pytest.raises(UpstreamError, match="channel 'sms' has no pf code"):
        evaluation({**vote(), "channel": "sms"}, profile(data))
    data["channels"] = {"pc": 1}
    with pytest.raises(ConfigError, match=r"channels\.hall_tablet: is required"):
        profile(data)
    data["channels"] = {"hall_tablet": 4, "fax": 9}
    with pytest.raises(ConfigError, match=r"channels\.fax: is not a channel"):
        profile(data)


# ------------------------------------------------------------------ time

def test_assess_time_is_hall_time_in_the_province_s_format(hunan):
    rec = vote(voted_at=T)
    rec["voted_at"] = "2026-11-27T07:00:00+00:00"         # a record written in UTC
    assert evaluation(rec, hunan).payload["assessTime"] == "2026-11-27 15:00:00"
    before = set_hall_zone(zone_named("Asia/Urumqi"))
    try:
        assert evaluation(rec, hunan).payload["assessTime"] == "2026-11-27 13:00:00"
    finally:
        set_hall_zone(before)


def test_time_patterns():
    assert strftime_pattern("yyyy-MM-dd HH:mm:ss") == "%Y-%m-%d %H:%M:%S"
    assert strftime_pattern("yyyyMMddHHmmss") == "%Y%m%d%H%M%S"
    for bad in ("yyyy-MM-dd hh:mm:ss", "YYYY-MM-dd", "yyyy-MM-dd %H"):
        with pytest.raises(ValueError):
            strftime_pattern(bad)
    with pytest.raises(ConfigError, match=r"time_format: 'h' is not a known part"):
        profile(time_format="yyyy-MM-dd hh:mm:ss")
    p = profile(time_format="yyyyMMddHHmmss")
    assert evaluation(vote(), p).payload["assessTime"] == "20261127150000"


# ------------------------------------------------------------------ the payload

def test_a_bad_review_s_payload(hunan):
    rec = vote(3, "dissatisfied", reasons=["拖拉推诿", "其他"], comment="等了很久")
    m = evaluation(rec, hunan, department="不动产登记")
    assert m.kind == "evaluation" and m.key == "evaluation:CN000007:1"
    assert m.payload == {
        "projectNo": "CN000007", "taskCode": "M1", "taskName": "居民身份证换领", "proStatus": 2,
        "proDepart": "不动产登记", "proManager": "李明", "pf": 4, "satisfaction": 2,
        "evalDetail": "4,8", "writingEvaluation": "等了很久", "assessTime": "2026-11-27 15:00:00",
        "assessNumber": 1, "dataSource": "000", "userProp": "1",
    }
    assert "13812345678" not in str(m.payload)                  # the phone never leaves


def test_a_good_review_s_payload_has_no_reasons_and_status_evaluated(hunan):
    p = evaluation(vote(3, "basically_satisfied"), hunan).payload
    assert (p["proStatus"], p["evalDetail"], p["writingEvaluation"], p["satisfaction"]) == (1, "", "", 3)
    assert "rectifyResult" not in p


def test_every_default_reason_has_its_own_code_in_the_shipped_profile(hunan):
    assert set(DEFAULT_BAD_REVIEW_REASONS) <= set(hunan.reasons)
    assert len({hunan.reasons[r] for r in DEFAULT_BAD_REVIEW_REASONS}) == len(DEFAULT_BAD_REVIEW_REASONS)


def test_a_hall_s_own_reason_goes_as_other_with_its_text_or_waits():
    rec = vote(3, "dissatisfied", reasons=["排队太久", "乱收费"], comment=None)
    p = evaluation(rec, profile()).payload
    assert (p["evalDetail"], p["writingEvaluation"]) == ("8,6", "排队太久")
    data = raw()
    del data["other_reason"]
    with pytest.raises(UpstreamError, match="reason '排队太久' has no code"):
        evaluation(rec, profile(data))


def test_repeated_codes_are_sent_once_and_the_separator_is_the_profile_s():
    rec = vote(3, "dissatisfied", reasons=["a", "b", "乱收费"])
    p = evaluation(rec, profile(reason_separator="|")).payload
    assert p["evalDetail"] == "8|6" and p["writingEvaluation"].startswith("a；b")


def test_unrated_and_records_without_a_case_number_are_never_uploaded(hunan):
    unrated = make_vote("tj-03", 1, unrated=True)
    with pytest.raises(NotUploaded) as e:
        evaluation(unrated, hunan)
    assert e.value.why == "unrated"
    with pytest.raises(NotUploaded) as e:
        preview({**vote(), "case_no": None}, hunan)
    assert e.value.why == "no_case_no"


def test_the_second_evaluation_has_its_own_key(hunan):
    m = evaluation(vote(), hunan, evaluation_no=2)
    assert m.key == "evaluation:CN000007:2" and m.payload["assessNumber"] == 2
    for bad in (0, 100, True, "1"):
        with pytest.raises(UpstreamError, match="evaluation_no"):
            evaluation(vote(), hunan, evaluation_no=bad)


def test_the_rectification_goes_as_its_own_message(hunan):
    rec = vote(3, "dissatisfied", reasons=["拖拉推诿"])
    fix = Rectification("已约谈窗口人员并整改", datetime(2026, 11, 30, 2, 0, tzinfo=timezone.utc))
    first, second = messages(rec, hunan, department="不动产登记", rectification=fix)
    assert first.payload["proStatus"] == 2 and "rectifyResult" not in first.payload
    assert second.kind == "rectification" and second.key == "rectification:CN000007:1"
    assert second.payload == {"projectNo": "CN000007", "proStatus": 3, "assessNumber": 1, "dataSource": "000",
                              "rectifyResult": "已约谈窗口人员并整改", "rectifyTime": "2026-11-30 10:00:00"}
    assert preview(rec, hunan, rectification=fix) == {
        "evaluation": {"key": first.key, "payload": evaluation(rec, hunan).payload},
        "rectification": {"key": second.key, "payload": second.payload}}
    with pytest.raises(UpstreamError, match="only a 差评"):
        rectification_message(vote(), hunan, fix)
    with pytest.raises(UpstreamError, match="empty"):
        rectification_message(rec, hunan, Rectification("  ", fix.at))


def test_preview_of_a_good_review_is_one_message(hunan):
    out = preview(vote(), hunan)
    assert list(out) == ["evaluation"] and out["evaluation"]["payload"]["satisfaction"] == 4


# ------------------------------------------------------------------ answers

@pytest.mark.parametrize("status,body,kind", [
    (200, '{"code": "200", "msg": "成功"}', "sent"),
    (200, '{"code": 200}', "sent"),
    (200, '{"code": "500", "msg": "评价数据不可重复"}', "already_sent"),
    (500, '{"code": "500", "msg": "办件[CN1]评价数据不可重复"}', "already_sent"),
    (400, "评价数据不可重复", "already_sent"),
    (200, "评价数据不可重复".encode("utf-8"), "already_sent"),
    (500, '{"code": "500", "msg": "系统繁忙"}', "retry"),
    (503, "", "retry"),
    (200, "<html>proxy</html>", "retry"),
    (200, '{"msg": "ok"}', "retry"),
    (200, '{"code": "401", "msg": "签名错误"}', "retry"),
    (None, None, "retry"),
])
def test_answers_are_read_by_the_profile(hunan, status, body, kind):
    assert classify(status, body, hunan).kind == kind


def test_a_retry_carries_the_error_to_show(hunan):
    assert classify(500, '{"code": "500", "msg": "系统繁忙"}', hunan) == Outcome("retry", "HTTP 500: 系统繁忙")
    assert classify(None, None, hunan, transport_error="timed out") == Outcome("retry", "timed out")
    assert "签名错误" in classify(200, '{"code": "401", "msg": "签名错误"}', hunan).error
    assert not classify(200, '{"code": "401"}', hunan).done and classify(200, '{"code": "200"}', hunan).done


def test_the_answer_rule_is_configurable():
    data = raw()
    data["answer"] = {"code_field": "result.success", "ok_codes": ["true"], "message_field": "result.message",
                      "already_sent": ["数据已存在", "重复提交"]}
    p = profile(data)
    assert classify(200, '{"result": {"success": true}}', p).kind == "sent"
    assert classify(200, '{"result": {"success": false, "message": "重复提交"}}', p).kind == "already_sent"
    assert classify(200, '{"result": {"success": false, "message": "评价数据不可重复"}}', p).kind == "retry"
    data["answer"]["ok_codes"] = []
    with pytest.raises(ConfigError, match=r"answer\.ok_codes: is empty"):
        profile(data)


def test_retries_double_to_the_cap_and_never_end():
    r = Retry(30, 3600)
    assert [r.wait(n) for n in (1, 2, 3, 7, 8, 1000)] == [30, 60, 120, 1920, 3600, 3600]
    now = datetime(2026, 11, 27, 8, 0, tzinfo=timezone.utc)
    step = after_attempt(Outcome("retry", "HTTP 500"), 0, now, r)
    assert (step.done, step.failures, step.next_attempt_at, step.last_error) == \
        (False, 1, now + timedelta(seconds=30), "HTTP 500")
    step = after_attempt(Outcome("retry", "x"), 10 ** 6, now, r)
    assert not step.done and step.next_attempt_at == now + timedelta(hours=1)
    assert after_attempt(Outcome("already_sent"), 9, now, r).done


# ------------------------------------------------------------------ bad profiles

@pytest.mark.parametrize("change,message", [
    (lambda d: d.pop("data_source"), r"data_source: is required"),
    (lambda d: d.update(data_source="43"), r"data_source: '43' is not 3 digits"),
    (lambda d: d.update(data_source=43), r"data_source: expected a non-empty string"),
    (lambda d: d["fields"].update(phone="tel"), r"fields\.phone: is not a value the center can send"),
    (lambda d: d["fields"].pop("satisfaction"), r"fields\.satisfaction: is required"),
    (lambda d: d["fields"].update(matter_name="projectNo"), r"fields\.case_no: payload key 'projectNo' is named twice"),
    (lambda d: d["statuses"].pop("rectified"), r"statuses: has no code for rectified"),
    (lambda d: d["statuses"].update(done=4), r"statuses\.done: is not a status"),
    (lambda d: d["constants"].update(pf=4), r"constants: \['pf'\] are also filled"),
    (lambda d: d["reasons"].update({"乱收费": True}), r"reasons\.乱收费: expected a code"),
    (lambda d: d.update(colour="red"), r"colour: is not a known key"),
    (lambda d: d["answer"].update(retry=3), r"answer\.retry: is not a known key"),
])
def test_bad_profiles_name_the_key(change, message):
    data = raw()
    change(data)
    with pytest.raises(ConfigError, match=message) as e:
        profile(data)
    assert str(e.value).startswith("p.toml: ")


def test_the_shipped_profile_loads_from_the_package():
    assert HUNAN.is_file() and HUNAN.parent.name == "provinces"
    p = Province.load(HUNAN)
    assert p.name == "hunan-example" and p.data_source == "000" and p.time_format == "%Y-%m-%d %H:%M:%S"
    assert p.answer.already_sent == ("评价数据不可重复",)


# ------------------------------------------------------------------ [upstream] settings

def test_upstream_settings(tmp_path):
    assert UpstreamSettings.from_table(Table({}, "upstream"), tmp_path) is None
    s = UpstreamSettings.from_table(Table({"url": "https://hcp.example/api", "profile": "hunan-example",
                                           "retry_first_s": 10, "retry_max_s": 600}, "upstream"), tmp_path)
    assert s.profile.name == "hunan-example" and s.retry == Retry(10, 600) and s.rectification_url is None
    own = tmp_path / "mine.toml"
    own.write_bytes(HUNAN.read_bytes().replace(b'data_source = "000"', b'data_source = "043"'))
    s = UpstreamSettings.from_table(Table({"url": "http://127.0.0.1:9/x", "profile": "mine.toml"}, "upstream"),
                                    tmp_path)
    assert s.profile.data_source == "043"
    assert profile_path("mine.toml", tmp_path) == own and profile_path("hunan-example", tmp_path) == HUNAN


@pytest.mark.parametrize("table,message", [
    ({"url": "ftp://x", "profile": "hunan-example"}, r"upstream\.url: 'ftp://x' is not an http\(s\) URL"),
    ({"url": "https://x"}, r"upstream\.profile: is required"),
    ({"url": "https://x", "profile": "nowhere"}, r"upstream\.profile: .*nowhere\.toml is not a file"),
    ({"url": "https://x", "profile": "hunan-example", "retry_first_s": 60, "retry_max_s": 30},
     r"upstream\.retry_max_s: 30 is out of range"),
    ({"url": "https://x", "profile": "hunan-example", "speed": 1}, r"upstream\.speed: is not a known key"),
])
def test_bad_upstream_settings(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        UpstreamSettings.from_table(Table(table, "upstream"), tmp_path)


def test_a_bad_profile_file_is_named_through_the_upstream_key(tmp_path):
    (tmp_path / "bad.toml").write_bytes(HUNAN.read_bytes().replace(b'data_source = "000"', b'data_source = "1"'))
    with pytest.raises(ConfigError, match=r"upstream\.profile → data_source: '1' is not 3 digits"):
        UpstreamSettings.from_table(Table({"url": "https://x", "profile": "bad.toml"}, "upstream"), tmp_path)
