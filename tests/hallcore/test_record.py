"""The schema-1 record and the rating scales (hallcore/record.py)."""
from datetime import datetime, timedelta

import pytest

from hallcore.hallclock import DEFAULT_TZ
from hallcore.record import (
    MAX_SEQ, SCALES, RecordError, check_record, is_bad_review, is_canonical_id, mask_phone, new_record,
    validate_record,
)
from hallcore.timebounds import TimeBounds

T = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)


def make(**over):
    kw = dict(device_id="tab-03", region_code="430922", hall_id="taojiang", window_id="03",
              staff_id="1024", staff_name="李明", ticket="A023", case_no=None,
              matter_code="M1", matter_name="居民身份证换领", matter_index=1, matter_count=1,
              scale_size=3, prompted_at=T, rating="satisfied", voted_at=T)
    kw.update(over)
    return new_record(**kw)


def bad_review(**over):
    kw = dict(rating="dissatisfied", reasons=["拖拉推诿"], due_at=T + timedelta(days=4),
              calendar_verified=True)
    kw.update(over)
    return make(**kw)


def test_three_level_scale_maps_labels_to_national_codes():
    assert [(lv.label, lv.satisfaction_code) for lv in SCALES[3].levels] == [
        ("满意", 2), ("基本满意", 3), ("不满意", 4)]


def test_five_level_scale_runs_one_to_five_with_two_bad_levels():
    levels = SCALES[5].levels
    assert [lv.satisfaction_code for lv in levels] == [1, 2, 3, 4, 5]
    assert [lv.label for lv in levels if lv.bad] == ["不满意", "非常不满意"]


@pytest.mark.parametrize("size,rating,bad", [
    (3, "satisfied", False), (3, "basically_satisfied", False), (3, "dissatisfied", True),
    (5, "very_satisfied", False), (5, "dissatisfied", True), (5, "very_dissatisfied", True)])
def test_is_bad_review_follows_the_scale(size, rating, bad):
    extra = dict(reasons=["乱收费"], due_at=T, calendar_verified=True) if bad else {}
    assert is_bad_review(make(scale_size=size, rating=rating, **extra)) is bad


def test_unrated_record_is_never_a_bad_review_and_carries_no_rating():
    rec = make(rating=None, voted_at=None, unrated_reason="timeout")
    assert rec["result"] == "unrated" and rec["rating"] is None
    assert not is_bad_review(rec)


def test_new_record_derives_label_and_code_from_rating():
    rec = bad_review()
    assert (rec["rating_label"], rec["satisfaction_code"]) == ("不满意", 4)
    assert rec["due_at"] == "2026-12-01T15:00:00+08:00"


def test_valid_record_with_seq_passes():
    rec = dict(make(), seq=1)
    assert validate_record(rec) == []
    assert check_record(rec) is rec


def test_missing_seq_is_an_error_unless_allowed():
    rec = make()
    assert [e.field for e in validate_record(rec)] == ["seq"]
    assert validate_record(rec, require_seq=False) == []


def test_bad_review_without_reasons_is_rejected_naming_reasons():
    with pytest.raises(RecordError) as e:
        bad_review(reasons=[])
    assert e.value.fields == ["reasons"]


def test_other_reason_takes_the_citizens_text_but_does_not_require_it():
    assert bad_review(reasons=["其他"], comment="窗口无人")["comment"] == "窗口无人"
    assert bad_review(reasons=["其他"], comment=None)["comment"] is None
    with pytest.raises(RecordError) as e:
        bad_review(reasons=["其他"], comment="长" * 2000)
    assert e.value.fields == ["comment"]


@pytest.mark.parametrize("field,value", [
    ("id", "not-a-uuid"), ("schema", 3), ("schema", True), ("seq", 0), ("seq", True), ("region_code", "4309"),
    ("window_id", ""), ("ticket", ""), ("matter_index", 3), ("matter_count", 0),
    ("result", "maybe"), ("scale", 4), ("rating", "great"), ("rating_label", "满意"),
    ("satisfaction_code", 2), ("channel", "web"), ("prompted_at", "2026-11-27T15:00:00"),
    ("voted_at", "yesterday"), ("contact_phone", "12345"), ("due_at", None),
    ("calendar_verified", "yes"), ("surprise", 1),
])
def test_each_bad_field_is_named(field, value):
    rec = dict(bad_review(), seq=1)
    rec[field] = value
    errors = validate_record(rec)
    assert field in [e.field for e in errors]
    assert all(str(e) for e in errors)


def test_rating_on_unrated_record_is_rejected():
    rec = dict(make(rating=None, voted_at=None, unrated_reason="timeout"), seq=1)
    rec["rating"] = "satisfied"
    assert "rating" in [e.field for e in validate_record(rec)]


def test_non_object_is_rejected():
    assert [e.field for e in validate_record([1, 2])] == ["record"]


def test_error_message_names_field_value_and_expectation():
    rec = dict(make(), seq=1, region_code="12")
    msg = str(RecordError(validate_record(rec)))
    assert "region_code='12'" in msg and "6-digit" in msg


def test_phone_is_masked_in_the_middle():
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone(None) is None


# ---------------------------------------------------------------- one form, plausible values

@pytest.mark.parametrize("spell", [str.upper, lambda s: s[:9].upper() + s[9:], lambda s: "{" + s + "}",
                                   lambda s: s.replace("-", ""), lambda s: "urn:uuid:" + s])
def test_an_id_in_any_other_spelling_than_lowercase_hyphenated_is_refused(spell):
    # a fixed id with letters in its first part: a random uuid4 whose first 9
    # characters are digits would read the same after upper() (2% of runs)
    rec = dict(make(), seq=1, id="abcdef12-3456-4789-8abc-def012345678")
    assert validate_record(rec) == []
    other = dict(rec, id=spell(rec["id"]))
    assert [e.field for e in validate_record(other)] == ["id"]
    assert "lowercase hyphenated UUID" in str(validate_record(other)[0])


def test_new_record_makes_canonical_ids():
    assert all(is_canonical_id(make()["id"]) for _ in range(20))
    with pytest.raises(RecordError, match="id="):
        make(record_id="8E1F0C2A-5B7D-4C1E-9F3A-0D2B6C4E8A10")


@pytest.mark.parametrize("seq,ok", [(1, True), (MAX_SEQ, True), (MAX_SEQ + 1, False), (2 ** 63, False),
                                    (0, False), (1.0, False), (True, False)])
def test_seq_is_an_integer_from_1_to_2_to_the_53(seq, ok):
    errors = validate_record(dict(make(), seq=seq))
    assert (errors == []) is ok and (ok or [e.field for e in errors] == ["seq"])


def test_schema_2_is_schema_1_with_the_chain_link():
    rec = dict(bad_review(), seq=1, schema=2, prev_hash="0" * 64)
    assert validate_record(rec) == []
    assert validate_record(dict(rec, prev_hash="a" * 64)) == []
    # every schema-1 rule still applies
    assert [e.field for e in validate_record(dict(rec, region_code="12"))] == ["region_code"]


@pytest.mark.parametrize("prev", [None, "", "A" * 64, "0" * 63, "g" * 64, 0, ["0" * 64]])
def test_a_schema_2_record_needs_a_prev_hash_of_64_lowercase_hex_digits(prev):
    rec = dict(bad_review(), seq=1, schema=2, prev_hash=prev)
    if prev is None:
        del rec["prev_hash"]
    errors = validate_record(rec)
    assert [e.field for e in errors] == ["prev_hash"]
    assert "64 lowercase hex digits" in str(errors[0])


def test_prev_hash_is_no_field_of_schema_1():
    errors = validate_record(dict(bad_review(), seq=1, prev_hash="0" * 64))
    assert [(e.field, e.expected) for e in errors] == [("prev_hash", "no such field in schema 1")]
    errors = validate_record(dict(bad_review(), seq=1, schema=2, prev_hash="0" * 64, surprise=1))
    assert [(e.field, e.expected) for e in errors] == [("surprise", "no such field in schema 2")]
    errors = validate_record(dict(bad_review(), seq=1, schema=7))
    assert [(e.field, e.expected) for e in errors] == [("schema", "1 or 2")]


@pytest.mark.parametrize("field,value", [("schema", 1.0), ("schema", 2.0), ("satisfaction_code", 2.0)])
def test_a_whole_number_written_as_a_float_is_refused(field, value):
    assert [e.field for e in validate_record(dict(make(), seq=1, **{field: value}))] == [field]


NOW = T + timedelta(minutes=5)


@pytest.mark.parametrize("field,value", [
    ("voted_at", "1990-03-01T10:00:00+08:00"),            # a tablet whose clock was reset
    ("prompted_at", "2019-11-30T23:59:59+08:00"),         # a second before the national rule
    ("voted_at", "9999-12-31T23:59:59-14:00"),            # no UTC or hall time for it
    ("prompted_at", "0001-01-01T00:00:00+14:00"),
    ("called_at", "2026-11-28T15:06:00+08:00"),           # more than a day ahead of the checker
    ("finished_at", "2030-01-01T00:00:00+08:00"),
])
def test_a_time_out_of_bounds_is_refused_naming_the_field(field, value):
    rec = dict(make(called_at=T, finished_at=T), seq=1, **{field: value})
    errors = validate_record(rec, now=NOW)
    assert [e.field for e in errors] == [field]
    assert "a time not before 2019-12-01" in str(errors[0]) or "after the clock" in str(errors[0])


def test_a_bad_reviews_deadline_may_lie_a_deadline_ahead_but_no_further():
    assert validate_record(dict(bad_review(due_at=T + timedelta(days=12)), seq=1), now=NOW) == []
    errors = validate_record(dict(bad_review(due_at=T + timedelta(days=40)), seq=1), now=NOW)
    assert [e.field for e in errors] == ["due_at"]


def test_the_future_bound_is_the_checking_sides_clock():
    rec = dict(make(prompted_at=T + timedelta(days=3), voted_at=T + timedelta(days=3)), seq=1)
    assert [e.field for e in validate_record(rec, now=NOW)] == ["prompted_at", "voted_at"]
    assert validate_record(rec, now=NOW + timedelta(days=3)) == []
    assert validate_record(rec) == []           # no clock given: only the earliest bound
    assert validate_record(rec, now=NOW, bounds=TimeBounds(ahead=timedelta(days=5))) == []


def test_new_record_checks_against_the_kiosks_clock():
    with pytest.raises(RecordError, match="voted_at"):
        make(voted_at=datetime(1990, 1, 1, tzinfo=DEFAULT_TZ), prompted_at=datetime(1990, 1, 1, tzinfo=DEFAULT_TZ),
             now=datetime(1990, 1, 1, tzinfo=DEFAULT_TZ))
