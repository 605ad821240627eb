"""The push to the provincial platform, pure parts (center/upstream.py): every
satisfaction code both ways, channel codes, hall time, messages and keys,
reading answers, retrying forever, the [upstream] settings."""
from datetime import datetime, timedelta, timezone

import pytest

from center.province import DEFAULT_CHANNELS, Province, profile_path
from center.upstream import (
    NotUploaded, Outcome, Rectification, Retry, UpstreamError, UpstreamSettings, after_attempt, classify,
    evaluation, level_of, messages, preview, rectification_message, satisfaction_code, second_evaluation_record,
)
from hallcore.config import ConfigError, Table
from hallcore.hallclock import DEFAULT_TZ, set_hall_zone, zone_named
from hallcore.record import SCALES
from tests.support.center import make_vote
from tests.support.province import HUNAN, profile, raw

T = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
# Written out, not computed: the province's code for every level (DESIGN §8.2).
PROVINCE_CODES = {
    3: {"satisfied": 4, "basically_satisfied": 3, "dissatisfied": 2},
    5: {"very_satisfied": 5, "satisfied": 4, "basically_satisfied": 3, "dissatisfied": 2,
        "very_dissatisfied": 1},
}


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


def test_a_record_whose_code_does_not_match_its_rating_is_refused(hunan):
    with pytest.raises(UpstreamError, match="satisfaction_code=4 does not match rating 'satisfied'"):
        satisfaction_code({**vote(), "satisfaction_code": 4}, hunan)
    with pytest.raises(UpstreamError, match="rating"):
        satisfaction_code({**vote(), "rating": "great"}, hunan)
    with pytest.raises(UpstreamError, match="not on the 3-level scale"):
        level_of(5, 3, hunan)


def test_a_province_that_counts_the_other_way_is_accepted():
    data = raw()
    data["satisfaction"]["3"] = {"满意": "1", "基本满意": "2", "不满意": "3"}
    p = profile(data)
    assert satisfaction_code(vote(3, "basically_satisfied"), p) == "2"      # kept as written
    assert level_of(3, 3, p) == "不满意"


# ------------------------------------------------------------------ channels

def test_every_channel_gets_its_pf_code(hunan):
    assert evaluation(vote(), hunan).payload["pf"] == 4
    for channel, code in DEFAULT_CHANNELS.items():
        assert evaluation({**vote(), "channel": channel}, hunan).payload["pf"] == code


def test_a_channel_without_a_code_waits_with_a_clear_error():
    data = raw()
    data["channels"] = {"hall_tablet": 4}
    with pytest.raises(UpstreamError, match="channel 'sms' has no pf code"):
        evaluation({**vote(), "channel": "sms"}, profile(data))


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


def test_assess_time_follows_the_profile_s_pattern():
    assert evaluation(vote(), profile(time_format="yyyyMMddHHmmss")).payload["assessTime"] == "20261127150000"


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

# ------------------------------------------------------------------ [upstream] settings

def test_the_second_evaluation_is_the_first_record_with_its_own_level_channel_and_time(hunan):
    first = vote(3, "dissatisfied")
    at = T + timedelta(days=3)
    rec = second_evaluation_record(first, scale=3, rating="basically_satisfied", channel="phone", at=at)
    m = evaluation(rec, hunan, evaluation_no=2)
    assert m.key == f"evaluation:{first['case_no']}:2"
    p = m.payload
    assert (p["satisfaction"], p["pf"], p["assessNumber"], p["proStatus"]) == (3, 6, 2, 1)
    assert (p["assessTime"], p["projectNo"]) == ("2026-11-30 15:00:00", first["case_no"])
    assert (p["evalDetail"], p["writingEvaluation"]) == ("", "")
    assert first["rating"] == "dissatisfied"                        # the first record is not changed
    with pytest.raises(UpstreamError, match="very_bad"):
        second_evaluation_record(first, scale=3, rating="very_bad", channel="qr", at=at)


def test_upstream_settings(tmp_path):
    assert UpstreamSettings.from_table(Table({}, "upstream"), tmp_path) is None
    s = UpstreamSettings.from_table(Table({"url": "https://hcp.example/api", "profile": "hunan-example",
                                           "retry_first_s": 10, "retry_max_s": 600}, "upstream"), tmp_path)
    assert s.profile.name == "hunan-example" and s.retry == Retry(10, 600) and s.rectification_url is None
    assert (s.tick_s, s.batch, s.lease_s) == (30, 20, 20 * 35 + 60)       # a batch may take every timeout
    assert s.url_for("rectification") == s.url_for("evaluation") == "https://hcp.example/api"
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
    ({"url": "https://x", "profile": "hunan-example", "batch": 0}, r"upstream\.batch: 0 is out of range"),
    ({"url": "https://x", "profile": "hunan-example", "tick_s": 0}, r"upstream\.tick_s: 0 is out of range"),
])
def test_bad_upstream_settings(tmp_path, table, message):
    with pytest.raises(ConfigError, match=message):
        UpstreamSettings.from_table(Table(table, "upstream"), tmp_path)


def test_a_bad_profile_file_is_named_through_the_upstream_key(tmp_path):
    (tmp_path / "bad.toml").write_bytes(HUNAN.read_bytes().replace(b'data_source = "000"', b'data_source = "1"'))
    with pytest.raises(ConfigError, match=r"upstream\.profile → data_source: '1' is not 3 digits"):
        UpstreamSettings.from_table(Table({"url": "https://x", "profile": "bad.toml"}, "upstream"), tmp_path)
