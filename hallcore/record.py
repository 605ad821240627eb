"""The evaluation record (schema 1, and schema 2 = schema 1 + `prev_hash`,
linked by the outbox: hallcore/chain.py) and the rating scales (DESIGN.md
sections 2, 3).

The one place that knows what a record looks like, which ratings exist, how a
rating maps to the GB/T 39046-2020 satisfaction code, and what a bad review
is. The kiosk validates before storing, the outbox before accepting, the
center before storing; none of them re-implements any of it.
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from collections.abc import Iterable, Mapping   # not typing's: isinstance on these is direct
from typing import Any

from hallcore.chain import PREV_FIELD, is_hash
from hallcore.timebounds import DEADLINE_SPAN, DEFAULT_BOUNDS, TimeBounds

SCHEMA_VERSION = 1          # what new_record writes: the outbox's put links it to schema 2
SCHEMA_VERSIONS = (1, 2)    # what every side accepts
CHANNEL_HALL_TABLET = "hall_tablet"  # 政务大厅平板电脑
# GB/T 39046-2020 table 9 评价渠道, in its order (labels and who may write
# which: center/channels.py)
CHANNELS = ("pc", "mobile", "qr", CHANNEL_HALL_TABLET, "hall_terminal", "phone", "sms")
RESULTS = ("rated", "unrated")
UNRATED_REASONS = ("timeout", "cancelled", "interrupted")

# The county follow-up checklist; "其他" offers free text in `comment`, never
# requires it: a tablet without a Chinese input method must not trap the
# citizen, and the call-back asks what went wrong anyway.
DEFAULT_BAD_REVIEW_REASONS = (
    "服务态度不热情",
    "未一次性告知",
    "让群众“两头跑”“多次跑”",
    "拖拉推诿",
    "未在承诺时限内办结",
    "乱收费",
    "违规审批",
    "其他",
)
OTHER_REASON = "其他"

MAX_TEXT = 200          # names, ids, reasons
MAX_COMMENT = 500       # free text of a bad review
MAX_MATTERS = 50        # matters on one ticket
MAX_SEQ = 2 ** 53       # the largest integer every JSON reader keeps exact
_MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
_REGION = re.compile(r"^[0-9]{6}$")
_CANONICAL_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")   # str(uuid.UUID(x)) == x


@dataclass(frozen=True)
class Level:
    """One button of a scale: machine name, Chinese label, national code."""
    name: str
    label: str
    satisfaction_code: int   # GB/T 39046-2020 appendix A.8
    bad: bool


@dataclass(frozen=True)
class Scale:
    size: int
    levels: tuple[Level, ...]   # best first, as shown on screen

    def level(self, name: str) -> Level:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(f"rating {name!r} is not on the {self.size}-level scale "
                       f"(expected one of {', '.join(self.names)})")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(lv.name for lv in self.levels)


SCALES: dict[int, Scale] = {
    3: Scale(3, (
        Level("satisfied", "满意", 2, False),
        Level("basically_satisfied", "基本满意", 3, False),
        Level("dissatisfied", "不满意", 4, True),
    )),
    5: Scale(5, (
        Level("very_satisfied", "非常满意", 1, False),
        Level("satisfied", "满意", 2, False),
        Level("basically_satisfied", "基本满意", 3, False),
        Level("dissatisfied", "不满意", 4, True),
        Level("very_dissatisfied", "非常不满意", 5, True),
    )),
}


def scale(size: int) -> Scale:
    try:
        return SCALES[size]
    except KeyError:
        raise ValueError(f"scale must be 3 or 5, got {size!r}") from None


def is_bad_review(record: Mapping[str, Any]) -> bool:
    """True for a rated record whose rating is a bad review (差评)."""
    if record.get("result") != "rated":
        return False
    size = record.get("scale")
    if size not in SCALES:
        return False
    try:
        return SCALES[size].level(record.get("rating")).bad
    except KeyError:
        return False


def is_region_code(code: Any) -> bool:
    """A 6-digit administrative division code (行政区划代码), e.g. 430922."""
    return isinstance(code, str) and _REGION.fullmatch(code) is not None


def is_mobile_phone(phone: Any) -> bool:
    """An 11-digit mainland mobile number (the only call-back number a kiosk takes)."""
    return isinstance(phone, str) and _MOBILE.fullmatch(phone) is not None


def mask_phone(phone: str | None) -> str | None:
    """138****5678: how a call-back number is shown everywhere but the case view."""
    if not phone:
        return phone
    if len(phone) < 7:
        return "*" * len(phone)
    return phone[:3] + "*" * (len(phone) - 7) + phone[-4:]


# ---------------------------------------------------------------- validation

@dataclass(frozen=True)
class FieldError:
    field: str
    value: Any
    expected: str

    def __str__(self) -> str:
        shown = repr(self.value)
        if len(shown) > 60:
            shown = shown[:57] + "..."
        return f"{self.field}={shown}: expected {self.expected}"


class RecordError(ValueError):
    """A record failed validation; `errors` names every bad field."""

    def __init__(self, errors: Iterable[FieldError]):
        self.errors = list(errors)
        super().__init__("invalid record: " + "; ".join(str(e) for e in self.errors))

    @property
    def fields(self) -> list[str]:
        return [e.field for e in self.errors]


FIELDS = (
    "id", "schema", "device_id", "seq", "region_code", "hall_id", "window_id",
    "staff_id", "staff_name", "ticket", "case_no", "matter_code", "matter_name",
    "matter_index", "matter_count", "result", "scale", "rating", "rating_label",
    "satisfaction_code", "reasons", "comment", "contact_phone", "unrated_reason",
    "channel", "called_at", "finished_at", "prompted_at", "voted_at", "due_at",
    "calendar_verified",
)
# schema 2 keeps every schema-1 field and adds the chain link (hallcore/chain.py)
FIELDS_BY_SCHEMA = {1: FIELDS, 2: FIELDS + (PREV_FIELD,)}

_FIELD_SETS = {v: frozenset(f) for v, f in FIELDS_BY_SCHEMA.items()}


def parse_time(value: Any) -> datetime | None:
    """An ISO 8601 time with a UTC offset, or None if it is not one."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        t = datetime.fromisoformat(value)
    except ValueError:
        return None
    return t if t.utcoffset() is not None else None


def _text(v: Any, empty: bool = False, limit: int = MAX_TEXT) -> bool:
    # `v and not v.isspace()` is `v.strip() != ""` without making the stripped copy
    return isinstance(v, str) and len(v) <= limit and (empty or (v != "" and not v.isspace()))


def _texts(r: Mapping[str, Any], checks: tuple[tuple[str, int, bool, str], ...], errs: list) -> None:
    """The text fields `checks` names ((field, limit, may be empty, expected)),
    each bad one in `errs` (one loop over a table: this runs for every record)."""
    for f, limit, empty, expected in checks:
        v = r.get(f)
        if not _text(v, empty, limit):
            errs.append(FieldError(f, v, expected))


def _int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def is_canonical_id(value: Any) -> bool:
    """A record id in its one form: a lowercase, hyphenated UUID (what uuid4() prints).

    Any other spelling of the same UUID (upper case, braces, no hyphens) is
    refused rather than folded: every side keys on the id as sent."""
    return isinstance(value, str) and _CANONICAL_ID.fullmatch(value) is not None


TIME_FIELDS = ("called_at", "finished_at", "prompted_at", "voted_at", "due_at")

# validate_record's text fields, in the order it reports them: (field, limit, may be empty, expected)
_DEVICE_TEXT = (("device_id", 64, False, "a non-empty device id of at most 64 characters"),)
_PLACE_TEXTS = (
    ("hall_id", 64, False, "a non-empty id of at most 64 characters"),
    ("window_id", 64, False, "a non-empty id of at most 64 characters"),
    *((f, MAX_TEXT, True, f"a string of at most {MAX_TEXT} characters (may be empty)")
      for f in ("staff_id", "staff_name", "matter_code")),
    ("ticket", 32, False, "a non-empty ticket number of at most 32 characters"),
)
_MATTER_TEXT = (("matter_name", MAX_TEXT, False, f"a non-empty matter name of at most {MAX_TEXT} characters"),)


def validate_record(record: Any, *, require_seq: bool = True, now: datetime | None = None,
                    bounds: TimeBounds = DEFAULT_BOUNDS) -> list[FieldError]:
    """Every problem with `record`, one FieldError per bad field ([] if valid).

    `require_seq=False` is for a record before the outbox numbers it. `now`
    is the checking side's clock: every time must lie within `bounds` of it
    (hallcore.timebounds); without it only the earliest bound is checked.
    """
    if not isinstance(record, Mapping):
        return [FieldError("record", record, "a JSON object")]
    r = record
    errs: list[FieldError] = []

    def bad(field: str, expected: str) -> None:
        errs.append(FieldError(field, r.get(field), expected))

    schema = r.get("schema")
    known = _int(schema) and schema in SCHEMA_VERSIONS
    own = schema if known else SCHEMA_VERSION     # unknown fields are judged by the record's own schema
    if not _FIELD_SETS[own].issuperset(r):       # no set made for the usual record, which has none
        for f in sorted(r.keys() - _FIELD_SETS[own]):
            errs.append(FieldError(f, r[f], f"no such field in schema {own}"))

    if not is_canonical_id(r.get("id")):
        bad("id", "a lowercase hyphenated UUID string such as 8e1f0c2a-5b7d-4c1e-9f3a-0d2b6c4e8a10")
    if not known:
        bad("schema", " or ".join(str(v) for v in SCHEMA_VERSIONS))
    elif schema == 2 and not is_hash(r.get(PREV_FIELD)):
        # a schema-2 record exists only after the outbox's put, which links it
        bad(PREV_FIELD, "64 lowercase hex digits: the chain hash of the device's previous record "
                        "(64 zeros for the first)")
    _texts(r, _DEVICE_TEXT, errs)
    seq = r.get("seq")
    if seq is None and not require_seq:
        pass
    elif not _int(seq) or not 1 <= seq <= MAX_SEQ:
        bad("seq", f"an integer from 1 to 2**53 ({MAX_SEQ}) assigned by the outbox")
    if not is_region_code(r.get("region_code")):
        bad("region_code", "a 6-digit administrative division code such as 430922")
    _texts(r, _PLACE_TEXTS, errs)
    if r.get("case_no") is not None and not _text(r.get("case_no"), limit=64):
        bad("case_no", "null or a case number of at most 64 characters")
    _texts(r, _MATTER_TEXT, errs)
    count, index = r.get("matter_count"), r.get("matter_index")
    if not _int(count) or not 1 <= count <= MAX_MATTERS:
        bad("matter_count", f"an integer from 1 to {MAX_MATTERS}")
        count = None
    if not _int(index) or index < 1 or (count is not None and index > count):
        bad("matter_index", "an integer from 1 to matter_count")
    if r.get("channel") not in CHANNELS:
        bad("channel", "one of " + ", ".join(CHANNELS))

    times = {f: parse_time(r.get(f)) for f in TIME_FIELDS}     # each read once
    for f in ("called_at", "finished_at"):
        if r.get(f) is not None and times[f] is None:
            bad(f, "null or an ISO 8601 time with offset, e.g. 2026-11-27T15:00:00+08:00")
    if times["prompted_at"] is None:
        bad("prompted_at", "an ISO 8601 time with offset, e.g. 2026-11-27T15:00:00+08:00")

    size = r.get("scale")
    sc = SCALES.get(size) if _int(size) else None
    if sc is None:
        bad("scale", "3 or 5")
    result = r.get("result")
    bad_review = False
    if result == "rated":
        level = None
        if sc is not None:
            try:
                level = sc.level(r.get("rating"))
            except (KeyError, TypeError):
                bad("rating", f"one of {', '.join(sc.names)}")
        if level is not None:
            bad_review = level.bad
            if r.get("rating_label") != level.label:
                bad("rating_label", f"{level.label!r} for rating {level.name!r}")
            if not _int(r.get("satisfaction_code")) or r.get("satisfaction_code") != level.satisfaction_code:
                bad("satisfaction_code", f"{level.satisfaction_code} for rating {level.name!r}")
        if r.get("unrated_reason") is not None:
            bad("unrated_reason", "null for a rated record")
        if times["voted_at"] is None:
            bad("voted_at", "an ISO 8601 time with offset for a rated record")
    elif result == "unrated":
        for f in ("rating", "rating_label", "satisfaction_code", "voted_at"):
            if r.get(f) is not None:
                bad(f, "null for an unrated record (a rating is never invented)")
        if r.get("unrated_reason") not in UNRATED_REASONS:
            bad("unrated_reason", f"one of {', '.join(UNRATED_REASONS)}")
    else:
        bad("result", "'rated' or 'unrated'")

    reasons = r.get("reasons")
    if bad_review:
        if (not isinstance(reasons, list) or not reasons
                or not all(_text(x) for x in reasons) or len(reasons) > 20
                or len(set(reasons)) != len(reasons)):
            bad("reasons", "a non-empty list of distinct reasons for a bad review")
        if r.get("comment") is not None and not _text(r.get("comment"), empty=True, limit=MAX_COMMENT):
            bad("comment", f"null or text of at most {MAX_COMMENT} characters")
        phone = r.get("contact_phone")
        if phone is not None and not is_mobile_phone(phone):
            bad("contact_phone", "null or an 11-digit mobile number starting with 1")
        if times["due_at"] is None:
            bad("due_at", "the 2-working-day deadline, an ISO 8601 time with offset")
        if not isinstance(r.get("calendar_verified"), bool):
            bad("calendar_verified", "true or false")
    elif result in RESULTS and not any(e.field == "rating" for e in errs):
        if reasons not in (None, []):
            bad("reasons", "an empty list: only a bad review has reasons")
        for f in ("comment", "contact_phone", "due_at", "calendar_verified"):
            if r.get(f) is not None:
                bad(f, "null: only a bad review has it")

    already = {e.field for e in errs} if errs else ()
    # computed once: this runs for every record
    earliest, latest = bounds.earliest, None if now is None else now + bounds.ahead
    latest_due = None if latest is None else latest + DEADLINE_SPAN
    for f, t in times.items():
        if t is None or f in already:
            continue
        if t < earliest or (latest is not None and t > (latest_due if f == "due_at" else latest)):
            bad(f, bounds.problem(t, now, extra=DEADLINE_SPAN if f == "due_at" else timedelta(0)))
    return errs


def check_record(record: Any, *, require_seq: bool = True, now: datetime | None = None,
                 bounds: TimeBounds = DEFAULT_BOUNDS) -> Mapping[str, Any]:
    """Return `record` if valid, else raise RecordError naming each bad field."""
    errs = validate_record(record, require_seq=require_seq, now=now, bounds=bounds)
    if errs:
        raise RecordError(errs)
    return record


def new_record(*, device_id: str, region_code: str, hall_id: str, window_id: str,
               staff_id: str, staff_name: str, ticket: str, case_no: str | None,
               matter_code: str, matter_name: str, matter_index: int, matter_count: int,
               scale_size: int, prompted_at: datetime,
               rating: str | None = None, voted_at: datetime | None = None,
               unrated_reason: str | None = None,
               reasons: Iterable[str] = (), comment: str | None = None,
               contact_phone: str | None = None,
               called_at: datetime | None = None, finished_at: datetime | None = None,
               due_at: datetime | None = None, calendar_verified: bool | None = None,
               record_id: str | None = None, now: datetime | None = None,
               channel: str = CHANNEL_HALL_TABLET) -> dict[str, Any]:
    """A complete record without `seq` (the outbox assigns it), validated
    (against the caller's clock `now` when given).

    Label and national code are derived from the rating here so no caller can
    get them wrong. Raises RecordError.
    """
    sc = scale(scale_size)
    level = sc.level(rating) if rating is not None else None
    iso = lambda t: t.isoformat(timespec="seconds") if t is not None else None  # noqa: E731
    rec = {
        "id": record_id or str(uuid.uuid4()),
        "schema": SCHEMA_VERSION,
        "device_id": device_id,
        "region_code": region_code,
        "hall_id": hall_id,
        "window_id": window_id,
        "staff_id": staff_id,
        "staff_name": staff_name,
        "ticket": ticket,
        "case_no": case_no,
        "matter_code": matter_code,
        "matter_name": matter_name,
        "matter_index": matter_index,
        "matter_count": matter_count,
        "result": "rated" if level else "unrated",
        "scale": scale_size,
        "rating": level.name if level else None,
        "rating_label": level.label if level else None,
        "satisfaction_code": level.satisfaction_code if level else None,
        "reasons": list(reasons) if level and level.bad else [],
        "comment": comment if level and level.bad else None,
        "contact_phone": contact_phone if level and level.bad else None,
        "unrated_reason": None if level else unrated_reason,
        "channel": channel,
        "called_at": iso(called_at),
        "finished_at": iso(finished_at),
        "prompted_at": iso(prompted_at),
        "voted_at": iso(voted_at) if level else None,
        "due_at": iso(due_at) if level and level.bad else None,
        "calendar_verified": calendar_verified if level and level.bad else None,
    }
    check_record(rec, require_seq=False, now=now)
    return rec
