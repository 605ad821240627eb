"""The QR check code on a ticket or receipt (二维码评价), as pure functions.

The queue system prints a URL holding the 办件编号, the hall, optionally the
matter codes and the 评价次数, and a check code: HMAC-SHA256 under the
hall's secret over a netstring encoding of those fields, truncated to 10
bytes and written in base32. The center recomputes it; a forged or altered
URL does not verify. Whether that 办件 was already rated is the database's
question; the decision on its answer is `may_rate`.

docs/DESIGN.md §13.2 "The QR check code" is the vendor's specification,
with test vectors (the tests pin them, so the document stays true).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets as _secrets
from dataclasses import dataclass
from typing import AbstractSet, Any, Iterable, Mapping, Sequence
from urllib.parse import unquote, urlsplit

from hallcore.config import ConfigError
from hallcore.record import MAX_MATTERS

VERSION = "hallqr1"          # first netstring of every message: a new format gets a new tag
CODE_BYTES = 10              # 80 bits: out of reach of guessing through the page
CODE_LENGTH = 16             # base32 characters of CODE_BYTES, no padding
SECRET_BYTES = 32            # a new secret
MIN_SECRET_BYTES = 16        # shortest secret accepted from the file
MAX_CASE_NO = 50             # GB/T 39046-2020 table 9 办件编号 an..50
MAX_ID = 64                  # hall ids and matter codes
MAX_QUERY = 2048             # a longer query string is refused before it is parsed
EVALUATION_NOS = (1, 2)      # 评价次数: first evaluation, the second after rectification

# Only characters that need no URL escaping and no Unicode normalisation, so
# every vendor's library writes the same bytes.
_SAFE = re.compile(r"[A-Za-z0-9._-]+")
_CODE = re.compile(r"[A-Z2-7]{%d}" % CODE_LENGTH)
_HEX = re.compile(r"[0-9a-fA-F]+")

# Query parameter names: short, because the QR code must stay small on a ticket.
P_HALL, P_CASE, P_MATTERS, P_EVALUATION, P_CODE = "h", "c", "m", "n", "k"


class QrError(ValueError):
    """A URL or field that cannot be a valid QR code; `message` is shown to the citizen."""

    def __init__(self, field: str, message: str):
        self.field, self.message = field, message
        super().__init__(f"{field}: {message}")


@dataclass(frozen=True)
class QrFields:
    hall_id: str
    case_no: str                      # 办件编号
    matters: tuple[str, ...] = ()     # the 办件's matter codes, in the order printed; may be empty
    evaluation_no: int = 1            # 评价次数


def _safe(value: Any, field: str, what: str, limit: int) -> str:
    if not isinstance(value, str) or not value:
        raise QrError(field, f"缺少{what}")
    if len(value) > limit:
        raise QrError(field, f"{what}过长（最多 {limit} 个字符）")
    if not _SAFE.fullmatch(value):
        raise QrError(field, f"{what}只能包含字母、数字和 . _ -")
    return value


def check_fields(fields: QrFields) -> QrFields:
    """`fields` if every field is within its bounds, else QrError naming it."""
    _safe(fields.hall_id, P_HALL, "大厅编号", MAX_ID)
    _safe(fields.case_no, P_CASE, "办件编号", MAX_CASE_NO)
    matters = fields.matters
    if not isinstance(matters, tuple):
        raise QrError(P_MATTERS, "事项编码格式不正确")
    if len(matters) > MAX_MATTERS:
        raise QrError(P_MATTERS, f"事项过多（最多 {MAX_MATTERS} 项）")
    for m in matters:
        _safe(m, P_MATTERS, "事项编码", MAX_ID)
    if len(set(matters)) != len(matters):
        raise QrError(P_MATTERS, "事项编码重复")
    n = fields.evaluation_no
    if isinstance(n, bool) or n not in EVALUATION_NOS:
        raise QrError(P_EVALUATION, "评价次数只能是 1 或 2")
    return fields


def _netstring(text: str) -> bytes:
    data = text.encode("ascii")
    return str(len(data)).encode("ascii") + b":" + data + b","


def message(fields: QrFields) -> bytes:
    """The bytes the check code signs: netstrings (`<length>:<bytes>,`) of the
    version tag, hall, 办件编号, 评价次数, the number of matters and each matter.
    Lengths make it unambiguous: no field can borrow another's characters."""
    check_fields(fields)
    parts = [VERSION, fields.hall_id, fields.case_no, str(fields.evaluation_no),
             str(len(fields.matters)), *fields.matters]
    return b"".join(_netstring(p) for p in parts)


def _check_secret(secret: bytes) -> None:
    if not isinstance(secret, (bytes, bytearray)) or len(secret) < MIN_SECRET_BYTES:
        raise ValueError(f"a QR secret must be at least {MIN_SECRET_BYTES} bytes")


def make_code(secret: bytes, fields: QrFields) -> str:
    """The check code: base32 (A–Z, 2–7, no padding) of the first 10 bytes of
    HMAC-SHA256(secret, message(fields))."""
    _check_secret(secret)
    mac = hmac.new(bytes(secret), message(fields), hashlib.sha256).digest()[:CODE_BYTES]
    return base64.b32encode(mac).decode("ascii")


def verify(secret: bytes, fields: QrFields, code: str) -> bool:
    """True only if `code` is the check code of `fields` under `secret`
    (constant-time comparison). Malformed fields or code are False."""
    if not isinstance(code, str) or not _CODE.fullmatch(code):
        return False
    try:
        expected = make_code(secret, fields)
    except QrError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), code.encode("ascii"))


def verify_any(secrets: Sequence[bytes], fields: QrFields, code: str) -> bool:
    """Verify against each of a hall's secrets (the current one first, then
    ones kept while tickets printed under them are still about)."""
    ok = False
    for s in secrets:            # no early exit: the time does not tell which key matched
        ok = verify(s, fields, code) | ok
    return ok


# ----------------------------------------------------------------- the URL

def build_url(base: str, fields: QrFields, code: str) -> str:
    """`base?h=…&c=…[&m=a,b][&n=2]&k=…`: `m` only when matters are given, `n`
    only when not 1. Every value is in the safe alphabet, so nothing is escaped."""
    check_fields(fields)
    if not _CODE.fullmatch(code or ""):
        raise QrError(P_CODE, "校验码格式不正确")
    parts = [f"{P_HALL}={fields.hall_id}", f"{P_CASE}={fields.case_no}"]
    if fields.matters:
        parts.append(f"{P_MATTERS}={','.join(fields.matters)}")
    if fields.evaluation_no != 1:
        parts.append(f"{P_EVALUATION}={fields.evaluation_no}")
    parts.append(f"{P_CODE}={code}")
    return base + ("&" if "?" in base else "?") + "&".join(parts)


def parse_query(query: str) -> tuple[QrFields, str]:
    """The fields and the check code of a raw query string (without '?'), or
    QrError naming the first problem. Unknown parameters (a messenger app
    adds its own) are ignored; a repeated known one is refused; %-escapes
    are undone before the values are checked."""
    if not isinstance(query, str):
        raise QrError("query", "链接格式不正确")
    if len(query) > MAX_QUERY:
        raise QrError("query", "链接过长")
    values: dict[str, str] = {}
    known = (P_HALL, P_CASE, P_MATTERS, P_EVALUATION, P_CODE)
    for pair in query.split("&") if query else ():
        name, _, value = pair.partition("=")
        if name not in known:
            continue
        if name in values:
            raise QrError(name, "链接参数重复")
        values[name] = unquote(value)    # a scanner may escape the comma; values are checked after
    for name, what in ((P_HALL, "大厅编号"), (P_CASE, "办件编号"), (P_CODE, "校验码")):
        if not values.get(name):
            raise QrError(name, f"缺少{what}")
    raw_m = values.get(P_MATTERS)
    if raw_m is None:
        matters: tuple[str, ...] = ()
    elif raw_m == "":
        raise QrError(P_MATTERS, "缺少事项编码")
    else:
        matters = tuple(raw_m.split(",", MAX_MATTERS))   # bounded split; one too many is refused below
    raw_n = values.get(P_EVALUATION, "1")
    if raw_n not in ("1", "2"):
        raise QrError(P_EVALUATION, "评价次数只能是 1 或 2")
    fields = check_fields(QrFields(values[P_HALL], values[P_CASE], matters, int(raw_n)))
    code = values[P_CODE]
    if not _CODE.fullmatch(code):
        raise QrError(P_CODE, "校验码格式不正确")
    return fields, code


def parse_url(url: str) -> tuple[QrFields, str]:
    """`parse_query` of a whole URL."""
    if not isinstance(url, str) or len(url) > MAX_QUERY + 512:
        raise QrError("query", "链接过长" if isinstance(url, str) else "链接格式不正确")
    return parse_query(urlsplit(url).query)


# ------------------------------------------------------------- the secrets

def new_secret() -> bytes:
    """A new hall secret (256 random bits)."""
    return _secrets.token_bytes(SECRET_BYTES)


def parse_secrets(data: Mapping[str, Any], source: str | None = None) -> dict[str, tuple[bytes, ...]]:
    """The secrets file's TOML (`<hall_id> = "<hex>"`, or a list of hex strings,
    the current one first) → {hall_id: (secret, ...)}. ConfigError names the key."""
    out: dict[str, tuple[bytes, ...]] = {}
    for hall, value in data.items():
        if not _SAFE.fullmatch(hall) or len(hall) > MAX_ID:
            raise ConfigError(hall, "is not a hall id (1-64 of A-Za-z0-9._-)",
                              "use the hall id of the tablets' [device] hall_id", source=source)
        items = value if isinstance(value, list) else [value]
        if not items:
            raise ConfigError(hall, "has no secret", "run `hall-center qr-secret` for it", source=source)
        keys = []
        for i, item in enumerate(items):
            key = hall if not isinstance(value, list) else f"{hall}[{i}]"
            if not isinstance(item, str) or not _HEX.fullmatch(item) or len(item) % 2:
                raise ConfigError(key, "is not a hex string", "write the secret as hex digits", source=source)
            secret = bytes.fromhex(item)
            if len(secret) < MIN_SECRET_BYTES:
                raise ConfigError(key, f"is {len(secret)} bytes, shorter than {MIN_SECRET_BYTES}",
                                  "generate a new secret", source=source)
            keys.append(secret)
        out[hall] = tuple(keys)
    return out


def format_secrets(halls: Mapping[str, Sequence[bytes]]) -> str:
    """The secrets file's text for `halls` (what `parse_secrets` reads back)."""
    lines = ["# QR check-code secrets, one per hall: keep this file 0600, never in the config itself.",
             "# A list keeps older secrets valid for tickets already printed; the first one signs."]
    for hall in sorted(halls):
        hexes = [bytes(s).hex() for s in halls[hall]]
        value = f'"{hexes[0]}"' if len(hexes) == 1 else "[" + ", ".join(f'"{h}"' for h in hexes) + "]"
        lines.append(f"{hall} = {value}")
    return "\n".join(lines) + "\n"


# -------------------------------------------------- one rating per 评价次数

Rated = tuple[str, str, int]     # (case_no, matter_code, evaluation_no) already stored


@dataclass(frozen=True)
class RateDecision:
    allowed: bool
    reason: str | None = None      # shown to the citizen when refused


def may_rate(already_rated: AbstractSet[Rated], case_no: str, matter_code: str,
             evaluation_no: int = 1, *, matters: Sequence[str] = (),
             second_allowed: bool = False) -> RateDecision:
    """May this matter of this 办件 be rated now, as this 评价次数?

    `matters` are the code's matter codes (empty: the code lists none);
    `second_allowed` is the case's answer (handling.second_evaluation_allowed)
    for a second evaluation, which needs a first one and rectification."""
    if evaluation_no not in EVALUATION_NOS or isinstance(evaluation_no, bool):
        return RateDecision(False, "评价次数只能是 1 或 2")
    if matters and matter_code not in matters:
        return RateDecision(False, "该办件没有这个事项")
    if (case_no, matter_code, evaluation_no) in already_rated:
        return RateDecision(False, "该事项已经评价过，不能重复评价" if evaluation_no == 1
                            else "该事项已经进行过二次评价")
    if evaluation_no == 2:
        if (case_no, matter_code, 1) not in already_rated:
            return RateDecision(False, "请先完成首次评价")
        if not second_allowed:
            return RateDecision(False, "整改完成后才能进行二次评价")
    return RateDecision(True)


def remaining(already_rated: AbstractSet[Rated], case_no: str, matters: Iterable[str],
              evaluation_no: int = 1) -> list[str]:
    """The matters of the 办件 still to rate as this 评价次数, in order."""
    return [m for m in matters if (case_no, m, evaluation_no) not in already_rated]


__all__ = ["CODE_LENGTH", "EVALUATION_NOS", "QrError", "QrFields", "RateDecision", "Rated",
           "build_url", "check_fields", "format_secrets", "make_code", "may_rate", "message",
           "new_secret", "parse_query", "parse_secrets", "parse_url", "remaining", "verify",
           "verify_any"]
