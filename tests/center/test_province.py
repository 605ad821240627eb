"""The province profile (center/province.py): the shipped example loads, and
every bad profile is refused with the dotted key named: shared or
misordered satisfaction codes, unknown fields, channels, statuses, time
patterns."""
import pytest

from center.province import DEFAULT_CHANNELS, Province, default_satisfaction, strftime_pattern
from center.channels import VALUES as CHANNELS
from hallcore.config import ConfigError
from hallcore.record import DEFAULT_BAD_REVIEW_REASONS
from tests.support.province import HUNAN, profile, raw


@pytest.fixture(scope="module")
def hunan():
    return Province.load(HUNAN)


def test_the_three_level_scale_is_four_three_two():
    assert default_satisfaction()[3] == {"满意": 4, "基本满意": 3, "不满意": 2}
    assert default_satisfaction()[5] == {"非常满意": 5, "满意": 4, "基本满意": 3, "不满意": 2, "非常不满意": 1}


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


def test_time_patterns():
    assert strftime_pattern("yyyy-MM-dd HH:mm:ss") == "%Y-%m-%d %H:%M:%S"
    assert strftime_pattern("yyyyMMddHHmmss") == "%Y%m%d%H%M%S"
    for bad in ("yyyy-MM-dd hh:mm:ss", "YYYY-MM-dd", "yyyy-MM-dd %H"):
        with pytest.raises(ValueError):
            strftime_pattern(bad)
    with pytest.raises(ConfigError, match=r"time_format: 'h' is not a known part"):
        profile(time_format="yyyy-MM-dd hh:mm:ss")
    assert profile(time_format="yyyyMMddHHmmss").time_format == "%Y%m%d%H%M%S"


def test_every_default_reason_has_its_own_code_in_the_shipped_profile(hunan):
    assert set(DEFAULT_BAD_REVIEW_REASONS) <= set(hunan.reasons)
    assert len({hunan.reasons[r] for r in DEFAULT_BAD_REVIEW_REASONS}) == len(DEFAULT_BAD_REVIEW_REASONS)


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
    (lambda d: d.update(idempotency_header="Idempotency Key"), r"idempotency_header: 'Idempotency Key' is not an HTTP"),
])
def test_bad_profiles_name_the_key(change, message):
    data = raw()
    change(data)
    with pytest.raises(ConfigError, match=message) as e:
        profile(data)
    assert str(e.value).startswith("p.toml: ")


def test_an_idempotency_header_is_optional():
    assert profile().idempotency_header is None
    assert profile(idempotency_header="X-Request-Id").idempotency_header == "X-Request-Id"


def test_the_shipped_profile_loads_from_the_package():
    assert HUNAN.is_file() and HUNAN.parent.name == "provinces"
    p = Province.load(HUNAN)
    assert p.name == "hunan-example" and p.data_source == "000" and p.time_format == "%Y-%m-%d %H:%M:%S"
    assert p.answer.already_sent == ("评价数据不可重复",)


def test_channel_codes_of_the_shipped_profile(hunan):
    assert hunan.channels == {"pc": 1, "mobile": 2, "qr": 3, "hall_tablet": 4, "hall_terminal": 5,
                              "phone": 6, "sms": 7} == DEFAULT_CHANNELS
    assert set(hunan.channels) == set(CHANNELS)


def test_channels_must_be_the_center_s_and_include_the_tablet():
    data = raw()
    data["channels"] = {"pc": 1}
    with pytest.raises(ConfigError, match=r"channels\.hall_tablet: is required"):
        profile(data)
    data["channels"] = {"hall_tablet": 4, "fax": 9}
    with pytest.raises(ConfigError, match=r"channels\.fax: is not a channel"):
        profile(data)
