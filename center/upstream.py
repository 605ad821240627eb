"""The push to the provincial 好差评 system, pure parts (issue 13, DESIGN §8.2, §8.4).

Provinces differ, so what the province receives is a PROFILE (TOML, like the
serial vendor profiles): payload field names, the satisfaction codes (the
province's run 1 = 非常不满意 … 5 = 非常满意, the reverse of GB/T 39046's
满意度代码), the channel (pf) codes, the reason codes, the time format, the
dataSource, the 办件 status codes and how to read the answer, including the
texts that mean "already there" ("评价数据不可重复"), which count as sent.

Two messages leave per evaluation: the evaluation itself, and, for a 差评,
its 整改 result once recorded. Each is idempotent by (办件编号, 评价次数) and
its kind. Sending retries forever with capped doubling waits. No I/O here:
the forwarder (an outbox table and a worker) and the CLI use these.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from hallcore.backoff import doubling
from hallcore.config import ConfigError, Table, load_toml
from hallcore.hallclock import in_hall
from hallcore.packagedata import CONFIG, shipped
from hallcore.record import SCALES, is_bad_review, parse_time

from .channels import VALUES as CHANNEL_VALUES

# What a profile's [fields] may name: the record's (or the center's) value → a payload key.
SOURCES = {
    "case_no": "办件编号 (record case_no)",
    "matter_code": "事项编码 (record matter_code)",
    "matter_name": "事项名称 (record matter_name)",
    "status": "办件状态 (profile [statuses])",
    "department": "办理部门 (the center's directory)",
    "staff_name": "办理人 (record staff_name)",
    "staff_id": "办理人工号 (record staff_id)",
    "region_code": "行政区划 (record region_code)",
    "channel": "评价渠道 (profile [channels])",
    "satisfaction": "满意度 (profile [satisfaction])",
    "reasons": "差评原因代码 (profile [reasons])",
    "text": "文字评价 (the comment)",
    "time": "评价时间 (voted_at in hall time)",
    "evaluation_no": "评价次数",
    "data_source": "数据来源 (profile data_source)",
    "rectification": "整改结果",
    "rectified_at": "整改时间 (hall time)",
}
REQUIRED_SOURCES = ("case_no", "channel", "satisfaction", "time", "evaluation_no")
# The key of a message, and what a rectification message carries beside its own fields.
KEY_SOURCES = ("case_no", "evaluation_no", "data_source")
RECTIFICATION_SOURCES = ("rectification", "rectified_at")
STATUSES = {"evaluated": "评价（非差评）", "bad": "差评待整改", "rectified": "差评已整改"}
MESSAGE_KINDS = ("evaluation", "rectification")
MAX_EVALUATION_NO = 99           # GB/T 39046 评价次数 n..2
DEFAULT_ALREADY_SENT = ("评价数据不可重复",)
# Java-style date patterns (as provincial documents write them) → strftime.
_TIME_TOKENS = {"yyyy": "%Y", "MM": "%m", "dd": "%d", "HH": "%H", "mm": "%M", "ss": "%S"}
_TIME_TOKEN = re.compile("|".join(sorted(_TIME_TOKENS, key=len, reverse=True)))
_DATA_SOURCE = re.compile(r"[0-9]{3}")


def default_satisfaction() -> dict[int, dict[str, int]]:
    """The province's codes by GB/T 39046's: 6 − 满意度代码 (三级 满意 4, 基本满意 3, 不满意 2)."""
    return {size: {lv.label: 6 - lv.satisfaction_code for lv in sc.levels} for size, sc in SCALES.items()}


DEFAULT_CHANNELS: dict[str, int] = {"pc": 1, "mobile": 2, "qr": 3, "hall_tablet": 4,
                                    "hall_terminal": 5, "phone": 6, "sms": 7}


class UpstreamError(ValueError):
    """A record the profile cannot map (fix the profile; the message stays pending)."""


class NotUploaded(UpstreamError):
    """A record that never goes upstream, with the reason (`why`: unrated, no_case_no)."""

    def __init__(self, why: str, message: str):
        self.why = why
        super().__init__(message)


# ------------------------------------------------------------------ the profile

def strftime_pattern(pattern: str) -> str:
    """'yyyy-MM-dd HH:mm:ss' → '%Y-%m-%d %H:%M:%S'; ValueError for an unknown letter."""
    out, pos = [], 0
    for m in _TIME_TOKEN.finditer(pattern):
        out.append(_literal(pattern[pos:m.start()]))
        out.append(_TIME_TOKENS[m.group()])
        pos = m.end()
    out.append(_literal(pattern[pos:]))
    return "".join(out)


def _literal(text: str) -> str:
    for c in text:
        if c.isalpha() or c in "%'":
            raise ValueError(f"{c!r} is not a known part of a time pattern")
    return text


@dataclass(frozen=True)
class Answer:
    """How the province's answer is read ([answer] of the profile)."""
    code_field: str = "code"               # dotted path in the JSON answer
    ok_codes: tuple[str, ...] = ("200",)
    message_field: str = "msg"
    already_sent: tuple[str, ...] = DEFAULT_ALREADY_SENT


@dataclass(frozen=True)
class Province:
    name: str
    fields: dict[str, str]                       # source → payload key, in payload order
    data_source: str                             # 3 digits
    satisfaction: dict[int, dict[str, Any]]      # scale → level label → the province's code
    channels: dict[str, Any]                     # center channel value → pf code
    statuses: dict[str, Any]                     # evaluated | bad | rectified → proStatus
    reasons: dict[str, str]                      # reason text → reason code
    other_reason: str | None = None              # code for a reason not in [reasons]; None: refuse it
    reason_separator: str = ","
    time_pattern: str = "yyyy-MM-dd HH:mm:ss"
    constants: dict[str, Any] | None = None      # payload key → a fixed value
    answer: Answer = Answer()
    description: str = ""

    @property
    def time_format(self) -> str:
        return strftime_pattern(self.time_pattern)

    @classmethod
    def load(cls, path: str | Path) -> "Province":
        return cls.from_table(Table(load_toml(path), source=str(path)))

    @classmethod
    def from_table(cls, t: Table) -> "Province":
        """A province profile; ConfigError names the bad key and the fix."""
        name = t.str("name")
        ds = t.str("data_source")
        if not _DATA_SOURCE.fullmatch(ds):
            raise t.error("data_source", f"{ds!r} is not 3 digits", 'quote it: data_source = "043"')
        pattern = t.str("time_format", "yyyy-MM-dd HH:mm:ss")
        try:
            strftime_pattern(pattern)
        except ValueError as e:
            raise t.error("time_format", str(e), "use yyyy MM dd HH mm ss and separators, "
                                                 'e.g. "yyyy-MM-dd HH:mm:ss"') from None
        profile = cls(
            name=name, fields=_fields(t.table("fields")), data_source=ds,
            satisfaction=_satisfaction(t.table("satisfaction")),
            channels=_channels(t.table("channels")), statuses=_statuses(t.table("statuses")),
            reasons=_codes(t.table("reasons")),
            other_reason=_code_or_none(t, "other_reason"),
            reason_separator=t.str("reason_separator", ",", empty=True) or ",",
            time_pattern=pattern, constants=_constants(t.table("constants")),
            answer=_answer(t.table("answer")), description=t.str("description", "", empty=True))
        if "status" in profile.fields:
            missing = [k for k in STATUSES if k not in profile.statuses]
            if missing:
                raise t.error("statuses", f"has no code for {', '.join(missing)}",
                              "[fields] sends status, so give every status its code: "
                              + ", ".join(f"{k} ({v})" for k, v in STATUSES.items()))
        clash = set(profile.fields.values()) & set(profile.constants or {})
        if clash:
            raise t.error("constants", f"{sorted(clash)} are also filled from [fields]",
                          "name each payload key once")
        t.reject_unknown()
        return profile


def _scalar(t: Table, key: str) -> Any:
    """A code as the province writes it: a whole number or a non-empty string, kept as written."""
    v = t.data[key]
    t._read.add(key)
    if isinstance(v, bool) or not isinstance(v, (int, str)) or (isinstance(v, str) and not v.strip()):
        raise t.error(key, f"expected a code (a number or a quoted string), got {v!r}", 'e.g. 4 or "4"')
    return v


def _fields(t: Table) -> dict[str, str]:
    out: dict[str, str] = {}
    for source in t.data:
        if source not in SOURCES:
            raise t.error(source, "is not a value the center can send",
                          "use one of: " + ", ".join(SOURCES))
        out[source] = t.str(source)
    missing = [s for s in REQUIRED_SOURCES if s not in out]
    if missing:
        raise t.error(missing[0], "is required but missing",
                      f'add `{missing[0]} = "<the province\'s field name>"` under [fields]')
    names = list(out.values())
    for source, key in out.items():
        if names.count(key) > 1:
            raise t.error(source, f"payload key {key!r} is named twice", "give each value its own key")
    return out


def _satisfaction(t: Table) -> dict[int, dict[str, Any]]:
    out = default_satisfaction()
    for size_text in t.data:
        size = int(size_text) if size_text.isdigit() else None
        sub = t.table(size_text)
        if size not in SCALES:
            raise t.error(size_text, "is not a scale", "use [satisfaction.3] or [satisfaction.5]")
        labels = [lv.label for lv in SCALES[size].levels]
        table: dict[str, Any] = {}
        for label in sub.data:
            if label not in labels:
                raise sub.error(label, f"is not a level of the {size}-level scale",
                                "use the labels " + ", ".join(labels))
            table[label] = _scalar(sub, label)
        for label in labels:
            if label not in table:
                raise sub.error(label, "is missing: every level needs its code", f'add "{label}" = <code>')
        values = [table[label] for label in labels]            # best first
        try:
            numbers = [int(v) for v in values]
        except ValueError:
            raise sub.error(labels[0], f"codes {values} are not numbers", "write each code as a number") from None
        if len(set(numbers)) != len(numbers):
            dup = next(label for label in labels if numbers.count(int(table[label])) > 1)
            raise sub.error(dup, f"two levels share code {table[dup]!r}",
                            "each level needs its own code (a shared code sends 基本满意 as 不满意 or the like)")
        steps = [b - a for a, b in zip(numbers, numbers[1:])]
        if not (all(s < 0 for s in steps) or all(s > 0 for s in steps)):
            raise sub.error(labels[0], f"codes {dict(zip(labels, values))} are not in the scale's order",
                            "codes must run from the best level to the worst, one way")
        out[size] = table
    return out


def _channels(t: Table) -> dict[str, Any]:
    if not t.data:
        return dict(DEFAULT_CHANNELS)
    out = {}
    for value in t.data:
        if value not in CHANNEL_VALUES:
            raise t.error(value, "is not a channel of the center", "use one of: " + ", ".join(CHANNEL_VALUES))
        out[value] = _scalar(t, value)
    if "hall_tablet" not in out:
        raise t.error("hall_tablet", "is required but missing", "add hall_tablet = 4 (政务大厅平板电脑)")
    return out


def _statuses(t: Table) -> dict[str, Any]:
    out = {}
    for s in t.data:
        if s not in STATUSES:
            raise t.error(s, "is not a status", "use: " + ", ".join(STATUSES))
        out[s] = _scalar(t, s)
    return out


def _codes(t: Table) -> dict[str, str]:
    out = {}
    for reason in t.data:
        out[reason] = str(_scalar(t, reason))
    return out


def _code_or_none(t: Table, key: str) -> str | None:
    if not t.has(key):
        return None
    return str(_scalar(t, key))


def _constants(t: Table) -> dict[str, Any]:
    return {k: _scalar(t, k) for k in list(t.data)}


def _answer(t: Table) -> Answer:
    d = Answer()
    codes = t.str_list("ok_codes", list(d.ok_codes))
    texts = t.str_list("already_sent", list(d.already_sent))
    if not codes:
        raise t.error("ok_codes", "is empty", 'list the codes that mean stored, e.g. ["200"]')
    a = Answer(code_field=t.str("code_field", d.code_field), ok_codes=tuple(codes),
               message_field=t.str("message_field", d.message_field), already_sent=tuple(texts))
    t.reject_unknown()
    return a


def shipped_profile(name: str) -> Path:
    """A profile shipped in config/provinces/ (the package hall_config.provinces)."""
    return shipped(CONFIG, "provinces", f"{name}.toml")


def profile_path(value: str, base: Path) -> Path:
    """[upstream] profile: a shipped name ("hunan-example") or a file (relative to the config)."""
    if "/" not in value and not value.endswith(".toml"):
        return shipped_profile(value)
    p = Path(value)
    return p if p.is_absolute() else base / p


# ------------------------------------------------------------------ settings

@dataclass(frozen=True)
class Retry:
    """Retry forever: the wait after the n-th failure in a row doubles up to cap_s."""
    first_s: float = 30.0
    cap_s: float = 3600.0

    def wait(self, failures: int) -> float:
        return doubling(failures, self.first_s, self.cap_s)

    def next_attempt(self, now: datetime, failures: int) -> datetime:
        return now + timedelta(seconds=self.wait(failures))


@dataclass(frozen=True)
class UpstreamSettings:
    """The center config's [upstream] table (no url: the forwarder is off)."""
    url: str
    profile: Province
    rectification_url: str | None = None     # where 整改 results go, if not to `url`
    timeout_s: float = 30.0
    retry: Retry = Retry()

    @classmethod
    def from_table(cls, t: Table, base: Path) -> "UpstreamSettings | None":
        url = t.str("url", "", empty=True)
        if not url:
            t.reject_unknown()
            return None
        for key in ("url", "rectification_url"):
            v = t.str(key, "", empty=True)
            if v and not v.startswith(("https://", "http://")):
                raise t.error(key, f"{v!r} is not an http(s) URL", 'e.g. "https://hcp.example.gov.cn/api/evaluation"')
        raw = t.str("profile")
        path = profile_path(raw, base)
        if not path.is_file():
            raise t.error("profile", f"{path} is not a file",
                          "name a shipped profile (hunan-example) or a profile file")
        try:
            province = Province.load(path)
        except ConfigError as e:
            raise ConfigError(f"{t.key('profile')} → {e.key}", e.problem, e.fix, source=e.source) from None
        first = t.int("retry_first_s", 30, min=1, max=86400)
        s = cls(url=url, profile=province,
                rectification_url=t.str("rectification_url", "", empty=True) or None,
                timeout_s=t.float("timeout_s", 30.0, min=1.0, max=300.0),
                retry=Retry(first, t.int("retry_max_s", 3600, min=first, max=7 * 86400)))
        t.reject_unknown()
        return s


# ------------------------------------------------------------------ mapping

@dataclass(frozen=True)
class Rectification:
    """A 差评's 整改结果 (center/handling.py `rectify`)."""
    result: str
    at: datetime


@dataclass(frozen=True)
class Message:
    kind: str                    # evaluation | rectification
    key: str                     # idempotency key: kind, 办件编号, 评价次数
    payload: dict[str, Any]


def message_key(kind: str, case_no: str, evaluation_no: int) -> str:
    return f"{kind}:{case_no}:{evaluation_no}"


def uploadable(record: Mapping[str, Any]) -> NotUploaded | None:
    """Why a record never goes upstream, or None."""
    if record.get("result") != "rated":
        return NotUploaded("unrated", "未评价的记录不上报（从不当作评价上传）")
    if not (isinstance(record.get("case_no"), str) and record["case_no"].strip()):
        return NotUploaded("no_case_no", "记录没有办件编号，省平台按办件编号接收评价")
    return None


def satisfaction_code(record: Mapping[str, Any], profile: Province) -> Any:
    """The province's code for the record's rating (by level, checked against its 满意度代码)."""
    sc = SCALES.get(record.get("scale"))
    if sc is None:
        raise UpstreamError(f"scale={record.get('scale')!r}: expected 3 or 5")
    try:
        level = sc.level(record.get("rating"))
    except KeyError as e:
        raise UpstreamError(str(e.args[0])) from None
    if record.get("satisfaction_code") != level.satisfaction_code:
        raise UpstreamError(f"satisfaction_code={record.get('satisfaction_code')!r} does not match "
                            f"rating {level.name!r} ({level.satisfaction_code})")
    return profile.satisfaction[sc.size][level.label]


def level_of(code: Any, scale: int, profile: Province) -> str:
    """The level label a province code stands for (what the province reads back)."""
    for label, c in profile.satisfaction[scale].items():
        if str(c) == str(code):
            return label
    raise UpstreamError(f"code {code!r} is not on the {scale}-level scale of profile {profile.name}")


def reason_codes(reasons: list[str], profile: Province) -> tuple[list[str], list[str]]:
    """(codes in order without repeats, reasons sent under other_reason)."""
    codes, as_other = [], []
    for r in reasons:
        code = profile.reasons.get(r)
        if code is None:
            if profile.other_reason is None:
                raise UpstreamError(f"reason {r!r} has no code in profile {profile.name} "
                                    "(add it under [reasons] or set other_reason)")
            code = profile.other_reason
            as_other.append(r)
        if code not in codes:
            codes.append(code)
    return codes, as_other


def hall_time(value: Any, profile: Province, what: str) -> str:
    t = value if isinstance(value, datetime) else parse_time(value)
    if t is None or t.utcoffset() is None:
        raise UpstreamError(f"{what}={value!r}: expected an ISO 8601 time with offset")
    return in_hall(t).strftime(profile.time_format)


def _status(name: str, profile: Province) -> Any:
    return profile.statuses.get(name)


def evaluation(record: Mapping[str, Any], profile: Province, *, department: str = "",
               evaluation_no: int = 1, rectification: Rectification | None = None) -> Message:
    """The evaluation message for a stored record. NotUploaded if it never goes
    (unrated, no 办件编号); UpstreamError if the profile cannot map it."""
    why = uploadable(record)
    if why is not None:
        raise why
    if isinstance(evaluation_no, bool) or not isinstance(evaluation_no, int) \
            or not 1 <= evaluation_no <= MAX_EVALUATION_NO:
        raise UpstreamError(f"evaluation_no={evaluation_no!r}: expected 1 to {MAX_EVALUATION_NO}")
    channel = record.get("channel")
    if channel not in profile.channels:
        raise UpstreamError(f"channel {channel!r} has no pf code in profile {profile.name} (add it under [channels])")
    bad = is_bad_review(record)
    codes, as_other = reason_codes(list(record.get("reasons") or []), profile) if bad else ([], [])
    comment = record.get("comment") or ""
    values: dict[str, Any] = {
        "case_no": record["case_no"],
        "matter_code": record.get("matter_code") or "",
        "matter_name": record.get("matter_name") or "",
        "status": _status("rectified" if bad and rectification else "bad" if bad else "evaluated", profile),
        "department": department,
        "staff_name": record.get("staff_name") or "",
        "staff_id": record.get("staff_id") or "",
        "region_code": record.get("region_code") or "",
        "channel": profile.channels[channel],
        "satisfaction": satisfaction_code(record, profile),
        "reasons": profile.reason_separator.join(codes),
        # reasons travel as codes; the text carries the comment, and any reason
        # that only went as "other", so no word the citizen chose is lost
        "text": "；".join([*as_other, *([comment] if comment else [])]),
        "time": hall_time(record.get("voted_at"), profile, "voted_at"),
        "evaluation_no": evaluation_no,
        "data_source": profile.data_source,
        "rectification": rectification.result if rectification else None,
        "rectified_at": hall_time(rectification.at, profile, "rectified_at") if rectification else None,
    }
    skip = set(RECTIFICATION_SOURCES) if rectification is None else set()
    return Message("evaluation", message_key("evaluation", record["case_no"], evaluation_no),
                   _payload(values, profile, skip))


def rectification_message(record: Mapping[str, Any], profile: Province, rectification: Rectification, *,
                          evaluation_no: int = 1) -> Message:
    """The 整改 result of a 差评, sent after its evaluation: the key fields, the
    status (rectified) and the rectification fields."""
    if not is_bad_review(record):
        raise UpstreamError("only a 差评 has a 整改 result")
    if not rectification.result.strip():
        raise UpstreamError("整改结果 is empty")
    full = evaluation(record, profile, evaluation_no=evaluation_no, rectification=rectification).payload
    keep = {profile.fields[s] for s in (*KEY_SOURCES, "status", *RECTIFICATION_SOURCES) if s in profile.fields}
    payload = {k: v for k, v in full.items() if k in keep}
    return Message("rectification", message_key("rectification", record["case_no"], evaluation_no), payload)


def _payload(values: Mapping[str, Any], profile: Province, skip: set[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for source, key in profile.fields.items():
        if source in skip or values.get(source) is None:
            continue
        out[key] = values[source]
    out.update(profile.constants or {})
    return out


def messages(record: Mapping[str, Any], profile: Province, *, department: str = "",
             evaluation_no: int = 1, rectification: Rectification | None = None) -> list[Message]:
    """What the forwarder queues for a record: its evaluation, then its 整改 result if any."""
    out = [evaluation(record, profile, department=department, evaluation_no=evaluation_no)]
    if rectification is not None:
        out.append(rectification_message(record, profile, rectification, evaluation_no=evaluation_no))
    return out


def preview(record: Mapping[str, Any], profile: Province, *, department: str = "",
            evaluation_no: int = 1, rectification: Rectification | None = None) -> dict[str, Any]:
    """What the province would receive for `record` (`hall-center upstream preview`):
    {"evaluation": {"key", "payload"}, "rectification": …}; NotUploaded says why nothing."""
    return {m.kind: {"key": m.key, "payload": m.payload}
            for m in messages(record, profile, department=department, evaluation_no=evaluation_no,
                              rectification=rectification)}


# ------------------------------------------------------------------ answers

@dataclass(frozen=True)
class Outcome:
    kind: str                      # sent | already_sent | retry
    error: str | None = None

    @property
    def done(self) -> bool:
        """Sent, or already there: the message leaves the outbox."""
        return self.kind in ("sent", "already_sent")


def _dig(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, Mapping) or part not in obj:
            return None
        obj = obj[part]
    return obj


def _as_code(v: Any) -> str:
    return ("true" if v else "false") if isinstance(v, bool) else str(v)


def classify(status: int | None, body: bytes | str | None, profile: Province, *,
             transport_error: str | None = None) -> Outcome:
    """What an answer means: sent, already sent ("评价数据不可重复"), or retry with
    the error to show. Only an explicit ok code or an already-sent text ends a
    message; anything else is retried (forever)."""
    if status is None:
        return Outcome("retry", transport_error or "no answer")
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    rule = profile.answer
    try:
        data = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    message = _dig(data, rule.message_field) if data is not None else None
    said = str(message) if message is not None else text
    if any(phrase and (phrase in said or phrase in text) for phrase in rule.already_sent):
        return Outcome("already_sent")
    if not 200 <= status < 300:
        return Outcome("retry", f"HTTP {status}: {said[:500]}".rstrip(": "))
    if data is None:
        return Outcome("retry", f"HTTP {status} but the answer is not JSON: {text[:200]!r}")
    code = _dig(data, rule.code_field)
    if code is None:
        return Outcome("retry", f"answer has no {rule.code_field!r}: {text[:200]}")
    if _as_code(code) in rule.ok_codes:
        return Outcome("sent")
    return Outcome("retry", f"{rule.code_field}={_as_code(code)}: {said[:500]}")


@dataclass(frozen=True)
class Step:
    """What the forwarder writes on a message's outbox row after an attempt."""
    done: bool
    failures: int                  # failures in a row (0 after success)
    next_attempt_at: datetime | None
    last_error: str | None


def after_attempt(outcome: Outcome, failures: int, now: datetime, retry: Retry) -> Step:
    """Done, or the next try after `retry.wait(failures + 1)`: there is no last try."""
    if outcome.done:
        return Step(True, 0, None, None)
    n = failures + 1
    return Step(False, n, retry.next_attempt(now, n), outcome.error)


__all__ = ["Answer", "DEFAULT_CHANNELS", "MESSAGE_KINDS", "Message", "NotUploaded", "Outcome", "Province",
           "Rectification", "Retry", "SOURCES", "STATUSES", "Step", "UpstreamError", "UpstreamSettings",
           "after_attempt", "classify", "default_satisfaction", "evaluation", "hall_time", "level_of",
           "message_key", "messages", "preview", "profile_path", "reason_codes", "rectification_message",
           "satisfaction_code", "shipped_profile", "strftime_pattern", "uploadable"]
