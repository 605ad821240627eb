"""Serial line protocols: the default protocol, vendor profiles, the splitter."""
from datetime import datetime

import pytest
from hypothesis import given, settings, strategies as st

from hallcore.config import ConfigError, Table
from hallcore.hallclock import DEFAULT_TZ
from kiosk.events import EventError, Matter, TicketEvent
from kiosk.lineprotocol import (LineProfile, LineSplitter, format_default_line, parse_done_line)

DEFAULT = LineProfile.default()
XUNHU = LineProfile.load("config/profiles/xunhu-csv.toml")
BRACKET = LineProfile.load("config/profiles/bracket-kv.toml")
CALL = "CALL|A023|03|1024|张三|2026112800017|GA001:居民身份证换领;GA003:户口迁移|2026-11-28T09:00:00+08:00"


def test_default_protocol_full_call_line():
    e = DEFAULT.parse_line(CALL, window="03")
    assert e == TicketEvent("call", "A023", "03", "1024", "张三", "2026112800017",
                            (Matter("GA001", "居民身份证换领"), Matter("GA003", "户口迁移")),
                            datetime(2026, 11, 28, 9, 0, tzinfo=DEFAULT_TZ))
    assert format_default_line(e) == CALL


def test_default_protocol_short_lines_take_this_window():
    assert DEFAULT.parse_line("FINISH|A023", window="03") == TicketEvent("finish", "A023", "03")
    assert DEFAULT.parse_line("CANCEL|A024|03", window="03").kind == "cancel"


@pytest.mark.parametrize("line, reason", [
    ("HELLO|A023", "no_match"),
    ("call|A023", "no_match"),
    ("CALL|", "missing_field"),
    ("CALL|A023|04", "wrong_window"),
    ("CALL|A023|03||||GA001:|", "missing_field"),
    ("CALL|A023|03|||||yesterday", "wrong_type"),
])
def test_default_protocol_rejects_with_reason(line, reason):
    with pytest.raises(EventError) as e:
        DEFAULT.parse_line(line, window="03")
    assert e.value.reason == reason


def test_default_back_channel_line():
    assert DEFAULT.format_done("A023", 2, 0) == "DONE|A023|2|0"
    assert parse_done_line("DONE|A023|2|0").ticket == "A023"


def test_xunhu_profile_names_only_and_local_time():
    e = XUNHU.parse_line("#QH,03,A023,1024,张三,居民身份证换领/户口迁移,20261128090000*", window="03")
    assert e.matters == (Matter("", "居民身份证换领"), Matter("", "户口迁移"))
    assert e.ts == datetime(2026, 11, 28, 9, 0, tzinfo=DEFAULT_TZ)
    assert XUNHU.parse_line("#BJ,03,A023,1024,张三,,20261128091500*", window="03").kind == "finish"
    assert XUNHU.format_done("A023", 2, 0) == "#PJ,A023,2,0*"
    with pytest.raises(EventError) as heartbeat:
        XUNHU.parse_line("#XT,03*", window="03")
    assert heartbeat.value.reason == "ignored"
    with pytest.raises(EventError) as other:
        XUNHU.parse_line("#QH,05,A023,1024,张三,,20261128090000*", window="03")
    assert other.value.reason == "wrong_window"
    assert XUNHU.encoding == "gbk"


def test_bracket_profile_single_matter_and_chinese_verbs():
    e = BRACKET.parse_line("[窗口=03][票号=A023][动作=呼叫][工号=1024][姓名=李四]"
                           "[事项=GA001 居民身份证换领][时间=2026-11-28 09:00:00]", window="03")
    assert (e.kind, e.staff_name, e.matters) == ("call", "李四", (Matter("GA001", "居民身份证换领"),))
    assert BRACKET.parse_line("[窗口=03][票号=A023][动作=办结]", window="03").kind == "finish"
    assert BRACKET.parse_line("[窗口=03][票号=A024][动作=弃号]", window="03").kind == "cancel"
    with pytest.raises(EventError) as e:
        BRACKET.parse_line("[窗口=03][票号=A024][动作=转移]", window="03")
    assert e.value.reason == "unknown_event"
    assert BRACKET.format_done("A023", 1, 0) == "[票号=A023][评价=完成][已评=1][未评=0]"


def profile_table(**changes):
    data = {"name": "t", "pattern": r"^(?P<verb>\w+) (?P<ticket>\w+)$", "verbs": {"C": "call"}}
    data.update(changes)
    return Table({k: v for k, v in data.items() if v is not None}, source="t.toml")


@pytest.mark.parametrize("changes, key", [
    ({"pattern": "(?P<verb>"}, "pattern"),
    ({"pattern": r"(?P<verb>\w+) (?P<tiket>\w+)"}, "pattern"),
    ({"pattern": r"(?P<verb>\w+)"}, "pattern"),
    ({"verbs": {"C": "called"}}, "verbs.C"),
    ({"verbs": {"H": "ignore"}}, "verbs"),
    ({"done_format": "DONE {tiket}"}, "done_format"),
    ({"done_format": "DONE {ticket}\n"}, "done_format"),
    ({"encoding": "latin-1"}, "encoding"),
    ({"colour": "red"}, "colour"),
    ({"name": None}, "name"),
])
def test_bad_profile_names_the_key(changes, key):
    with pytest.raises(ConfigError) as e:
        LineProfile.from_table(profile_table(**changes))
    assert e.value.key == key


# --- splitter ------------------------------------------------------------

def test_splitter_joins_partial_chunks_and_splits_many_lines():
    s = LineSplitter(encoding="utf-8")
    data = (CALL + "\r\nFINISH|A023\r\n").encode()
    out = []
    for i in range(0, len(data), 7):
        out += s.feed(data[i:i + 7])
    assert out == [CALL, "FINISH|A023"]


def test_splitter_gbk_and_wrong_encoding_counted():
    s = LineSplitter(encoding="gbk")
    assert s.feed(CALL.encode("gbk") + b"\r\n") == [CALL]
    assert s.feed(CALL.encode("utf-8") + b"\r\n" + b"FINISH|A023\r\n") == ["FINISH|A023"]
    assert s.counts["bad_encoding"] == 1


def test_splitter_drops_oversize_and_garbage_lines_then_reads_the_next():
    s = LineSplitter(encoding="utf-8", max_line=64)
    out = s.feed(b"X" * 200) + s.feed(b"Y" * 200 + b"\n\x00\x13\x7f junk\nFINISH|A1\n")
    assert out == ["FINISH|A1"]
    assert s.counts["oversize"] == 1 and s.counts["garbage"] == 1


def test_splitter_line_endings():
    assert LineSplitter(line_ending="cr").feed(b"CANCEL|A1\rCANCEL|A2\r\n") == ["CANCEL|A1", "CANCEL|A2"]
    assert LineSplitter(line_ending="lf").feed(b"CANCEL|A1\nCANCEL|A2\r\n") == ["CANCEL|A1", "CANCEL|A2"]


def test_splitter_reset_drops_half_line():
    s = LineSplitter()
    s.feed(b"CALL|A0")
    s.reset()
    assert s.feed(b"23\r\nFINISH|A023\r\n") == ["23", "FINISH|A023"]
    assert s.counts["partial"] == 1


# --- properties ----------------------------------------------------------

PROFILES = [(DEFAULT, CALL, "gbk"),
            (XUNHU, "#QH,03,A023,1024,张三,居民身份证换领/户口迁移,20261128090000*", "gbk"),
            (BRACKET, "[窗口=03][票号=A023][动作=呼叫][事项=GA001 居民身份证换领]", "utf-8")]


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PROFILES), st.text(max_size=200))
def test_arbitrary_text_raises_only_event_error(profile, text):
    try:
        profile[0].parse_line(text, window="03")
    except EventError:
        pass


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(PROFILES), st.binary(max_size=600), st.integers(1, 64))
def test_good_frame_after_arbitrary_garbage_is_parsed(profile, garbage, chunk):
    profile, line, encoding = profile
    s = LineSplitter(encoding=encoding, max_line=256)
    stream = garbage + b"\r\n" + line.encode(encoding) + b"\r\n"
    lines = []
    for i in range(0, len(stream), chunk):
        lines += s.feed(stream[i:i + chunk])   # never raises
    events = []
    for text in lines:
        try:
            events.append(profile.parse_line(text, window="03"))
        except EventError:
            pass
    assert events and events[-1].ticket == "A023" and events[-1].kind == "call"


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=80))
def test_done_line_parser_raises_only_event_error(text):
    try:
        parse_done_line(text)
    except EventError:
        pass


toml_values = st.one_of(st.text(max_size=30), st.integers(), st.booleans(),
                        st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.fixed_dictionaries({}, optional={
    "name": toml_values, "pattern": st.one_of(st.text(max_size=40), st.just(r"(?P<verb>\w+)\|(?P<ticket>\w+)")),
    "verbs": toml_values, "done_format": st.text(max_size=30), "encoding": toml_values,
    "matters_separator": toml_values, "time_format": toml_values, "bogus": toml_values}))
def test_arbitrary_profile_tables_raise_only_config_error(data):
    try:
        profile = LineProfile.from_table(Table(data, source="p.toml"))
    except ConfigError:
        return
    profile.format_done("A001", 1, 0)
