"""The province profile of the upstream push (issue 13, DESIGN §8.2): a TOML
file, like the serial vendor profiles, that says what the provincial 好差评
system receives: payload field names, the satisfaction codes (the
province's run 1 = 非常不满意 … 5 = 非常满意, the reverse of GB/T 39046's
满意度代码), the channel (pf) codes, the reason codes, the time format, the
dataSource, the 办件 status codes and how to read the answer, including the
texts that mean "already there" ("评价数据不可重复"). A bad profile raises
ConfigError naming the key. center/upstream.py maps records with it.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hallcore.config import Table, load_toml
from hallcore.packagedata import CONFIG, shipped
from hallcore.record import SCALES

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
    idempotency_header: str | None = None        # HTTP header carrying the message key, if the province reads one

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
            answer=_answer(t.table("answer")), description=t.str("description", "", empty=True),
            idempotency_header=_header(t, "idempotency_header"))
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


_HEADER = re.compile(r"[A-Za-z0-9-]{1,64}")


def _header(t: Table, key: str) -> str | None:
    name = t.str(key, "", empty=True)
    if not name:
        return None
    if not _HEADER.fullmatch(name):
        raise t.error(key, f"{name!r} is not an HTTP header name", 'e.g. "Idempotency-Key"')
    return name


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


__all__ = ["Answer", "DEFAULT_ALREADY_SENT", "DEFAULT_CHANNELS", "KEY_SOURCES", "Province",
           "RECTIFICATION_SOURCES", "REQUIRED_SOURCES", "SOURCES", "STATUSES", "default_satisfaction",
           "profile_path", "shipped_profile", "strftime_pattern"]
