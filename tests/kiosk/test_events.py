"""Ticket events: MQTT JSON parsing, the back-channel, deduplication."""
import json
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from hallcore.hallclock import DEFAULT_TZ

from kiosk.events import (MAX_PAYLOAD, EventDeduplicator, EventError, Matter,
                          TicketEvent, done_to_json, event_to_json, load_matters,
                          parse_done_payload, parse_mqtt_payload)

GOOD = {"event": "finish", "ticket": "A023", "window": "03", "staff_id": "1024",
        "staff_name": "张三", "case_no": "2026112800017",
        "matters": [{"code": "GA001", "name": "居民身份证换领"}, {"code": "GA003", "name": "户口迁移"}],
        "ts": "2026-11-28T09:15:00+08:00"}


def payload(**changes):
    obj = dict(GOOD, **changes)
    return json.dumps({k: v for k, v in obj.items() if v is not ...}, ensure_ascii=False).encode()


def test_design_example_parses_to_the_event():
    e = parse_mqtt_payload(payload(), window="03")
    assert e == TicketEvent("finish", "A023", "03", "1024", "张三", "2026112800017",
                            (Matter("GA001", "居民身份证换领"), Matter("GA003", "户口迁移")),
                            datetime(2026, 11, 28, 9, 15, tzinfo=DEFAULT_TZ))
    assert e.key == ("A023", "finish")


def test_event_round_trips_through_json():
    e = parse_mqtt_payload(payload(), window="03")
    assert parse_mqtt_payload(event_to_json(e), window="03") == e


def test_optional_fields_may_be_missing_or_null():
    e = parse_mqtt_payload(payload(staff_id=..., staff_name=..., case_no=None, matters=..., ts=...),
                           window="03")
    assert (e.staff_id, e.case_no, e.matters, e.ts) == ("", None, (), None)


@pytest.mark.parametrize("data, reason", [
    (b"{not json", "bad_json"),
    (b"\xff\xfe{}", "bad_encoding"),
    (b"[1, 2]", "wrong_type"),
    (payload(event="start"), "unknown_event"),
    (payload(event=...), "unknown_event"),
    (payload(ticket=...), "missing_field"),
    (payload(ticket="  "), "missing_field"),
    (payload(ticket=23), "wrong_type"),
    (payload(ticket="A 23"), "wrong_type"),
    (payload(staff_id=1024), "wrong_type"),
    (payload(matters="GA001"), "wrong_type"),
    (payload(matters=[{"code": "GA001"}]), "missing_field"),
    (payload(matters=[["GA001", "x"]]), "wrong_type"),
    (payload(ts="yesterday"), "wrong_type"),
    (payload(ts="2026-11-28T09:15:00"), "wrong_type"),     # no offset: ambiguous
    (payload(window="04"), "wrong_window"),
    (payload(staff_name="张三\x00"), "wrong_type"),
])
def test_bad_payload_is_rejected_with_its_reason(data, reason):
    with pytest.raises(EventError) as e:
        parse_mqtt_payload(data, window="03")
    assert e.value.reason == reason


def test_payload_over_8_kib_is_rejected_even_if_valid_json():
    big = payload(staff_name="x" * 100, matters=[{"code": "c", "name": "名" * 60}] * 40)
    assert len(big) > MAX_PAYLOAD
    with pytest.raises(EventError) as e:
        parse_mqtt_payload(big, window="03")
    assert e.value.reason == "too_large"


def test_missing_window_field_is_taken_as_this_window():
    assert parse_mqtt_payload(payload(window=...), window="03").window == "03"


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_event_error(data):
    try:
        parse_mqtt_payload(data, window="03")
    except EventError:
        pass


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                           | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=4) | st.dictionaries(st.text(max_size=8), c, max_size=4),
                           max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(list(GOOD) + ["extra"]), json_values, max_size=9))
def test_arbitrary_json_objects_raise_only_event_error(obj):
    try:
        parse_mqtt_payload(json.dumps(obj).encode(), window="03")
    except EventError:
        pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=100), max_size=5))
def test_good_message_after_garbage_is_parsed(garbage):
    for g in garbage:
        try:
            parse_mqtt_payload(g, window="03")
        except EventError:
            pass
    assert parse_mqtt_payload(payload(), window="03").ticket == "A023"


def test_back_channel_carries_counts_only():
    msg = json.loads(done_to_json("A023", 1, 1))
    assert msg == {"ticket": "A023", "status": "done", "rated": 1, "unrated": 1}
    assert parse_done_payload(done_to_json("A023", 2, 0)).rated == 2
    with pytest.raises(EventError):
        parse_done_payload(b'{"ticket": "A023", "status": "done", "rated": "1", "unrated": 0}')


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=200))
def test_back_channel_parser_raises_only_event_error(data):
    try:
        parse_done_payload(data)
    except EventError:
        pass


# --- deduplication -------------------------------------------------------

def ev(kind, ticket="A023", ts=None):
    return TicketEvent(kind, ticket, "03", ts=ts)


T0 = datetime(2026, 11, 28, 9, 0, tzinfo=DEFAULT_TZ)


def test_replayed_event_is_seen_once():
    d = EventDeduplicator(today=lambda: date(2026, 11, 28))
    assert [d.seen(ev(k)) for k in ("call", "call", "finish", "finish", "call")] == \
        [False, True, False, True, True]


def test_replayed_events_with_times_are_dropped_even_after_finish():
    d = EventDeduplicator()
    call, fin = ev("call", ts=T0), ev("finish", ts=T0 + timedelta(minutes=10))
    assert [d.seen(e) for e in (call, fin, call, fin)] == [False, False, True, True]


def test_ticket_number_reused_later_the_same_day_is_new():
    d = EventDeduplicator()
    first = [ev("call", ts=T0), ev("finish", ts=T0 + timedelta(minutes=5))]
    second = [ev("call", ts=T0 + timedelta(hours=3)), ev("finish", ts=T0 + timedelta(hours=3, minutes=5))]
    assert [d.seen(e) for e in first + second + first + second] == [False] * 4 + [True] * 4


def test_recall_of_an_open_ticket_is_not_a_new_call():
    d = EventDeduplicator()
    assert d.seen(ev("call", ts=T0)) is False
    assert d.seen(ev("call", ts=T0 + timedelta(minutes=1))) is True   # 重呼
    assert d.seen(ev("finish", ts=T0 + timedelta(minutes=9))) is False


def test_same_ticket_on_a_later_day_is_new():
    today = [date(2026, 11, 27)]
    d = EventDeduplicator(today=lambda: today[0])
    assert d.seen(ev("finish")) is False
    today[0] = date(2026, 11, 30)
    assert d.seen(ev("finish")) is False
    assert d.seen(ev("finish", ts=T0)) is False                       # ts decides its day: 28th
    assert d.seen(ev("finish", ts=T0 - timedelta(days=1))) is True    # the 27th's, again


def test_memory_is_bounded_and_forgets_oldest_tickets():
    d = EventDeduplicator(capacity=3, today=lambda: date(2026, 11, 28))
    for n in range(10):
        assert d.seen(ev("call", ticket=f"A{n:03}")) is False
    assert len(d._cycles) == 3
    assert d.seen(ev("call", ticket="A009")) is True
    assert d.seen(ev("call", ticket="A000")) is False


def test_sample_matters_list_has_codes_and_names():
    matters = load_matters("config/matters.toml")
    assert 20 <= len(matters) <= 30
    assert len({m.code for m in matters}) == len(matters)
    assert "居民身份证换领" in {m.name for m in matters}
