"""The push to the provincial 好差评 system, pure parts (issue 13, DESIGN §8.2, §8.4).

Two messages leave per evaluation: the evaluation itself, and, for a 差评,
its 整改 result once recorded, each mapped by the province's profile
(center/province.py). Each is idempotent by its kind, 办件编号 and 评价次数;
an answer that the data is already there counts as sent. Sending retries
forever with capped doubling waits. No I/O here: the forwarder (an outbox
table and a worker) and the CLI use these.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Mapping

from hallcore.backoff import doubling
from hallcore.config import ConfigError, Table
from hallcore.hallclock import in_hall
from hallcore.record import SCALES, is_bad_review, parse_time

from .province import KEY_SOURCES, RECTIFICATION_SOURCES, Province, profile_path

MESSAGE_KINDS = ("evaluation", "rectification")
MAX_EVALUATION_NO = 99           # GB/T 39046 评价次数 n..2


class UpstreamError(ValueError):
    """A record the profile cannot map (fix the profile; the message stays pending)."""


class NotUploaded(UpstreamError):
    """A record that never goes upstream, with the reason (`why`: unrated, no_case_no)."""

    def __init__(self, why: str, message: str):
        self.why = why
        super().__init__(message)


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
    tick_s: float = 30.0                     # the forwarder's pause between rounds when nothing is due
    batch: int = 20                          # messages claimed per round

    @property
    def lease_s(self) -> float:
        """How long a claimed batch is the claimer's: every message of it may take the whole timeout."""
        return self.batch * (self.timeout_s + 5) + 60

    def url_for(self, kind: str) -> str:
        return self.rectification_url if kind == "rectification" and self.rectification_url else self.url

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
                retry=Retry(first, t.int("retry_max_s", 3600, min=first, max=7 * 86400)),
                tick_s=t.int("tick_s", 30, min=1, max=3600),
                batch=t.int("batch", 20, min=1, max=500))
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


def second_evaluation_record(first: Mapping[str, Any], *, scale: int, rating: str, channel: str,
                             at: datetime) -> dict[str, Any]:
    """The record the province reads as 评价次数 2: the first evaluation's 办件,
    window and staff with the 二次评价's level, channel (qr or phone) and time;
    no reasons or comment (the 二次评价 takes a level only)."""
    sc = SCALES.get(scale)
    if sc is None:
        raise UpstreamError(f"二次评价 scale={scale!r}: expected 3 or 5")
    try:
        level = sc.level(rating)
    except KeyError as e:
        raise UpstreamError(str(e.args[0])) from None
    if at.utcoffset() is None:
        raise UpstreamError(f"二次评价 time {at!r} has no offset")
    return {**first, "result": "rated", "scale": scale, "rating": level.name, "rating_label": level.label,
            "satisfaction_code": level.satisfaction_code, "reasons": [], "comment": None,
            "channel": channel, "voted_at": at.isoformat(timespec="seconds")}


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


__all__ = ["MESSAGE_KINDS", "Message", "NotUploaded", "Outcome", "Rectification", "Retry", "Step",
           "UpstreamError", "UpstreamSettings", "after_attempt", "classify", "evaluation", "hall_time",
           "level_of", "message_key", "messages", "preview", "reason_codes", "rectification_message",
           "satisfaction_code", "second_evaluation_record", "uploadable"]
