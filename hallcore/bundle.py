"""The center's bundle: what the tablets of one window should know (DESIGN.md §4.9). Pure.

    {"schema": 1, "version": "<sha256[:16]>", "sha256": "<hex>", "content": {
        "hall_id": "taojiang", "window_id": "03",
        "holidays": "<the center's holiday override file, as text>" | null,
        "kiosk": {"timeout_s": 90, "reasons": [...], ...},        # only what the center sets
        "staff": [{"id": "1024", "name": "张三",
                   "photo": {"type": "image/jpeg", "data": "<base64>"} | null}, ...]}}

`sha256` is of `canonical(content)`; the center makes the envelope with
`seal`, the agent stores the answer's bytes as they came, and both the agent
(on receipt) and the kiosk (on pick-up) read it with `parse_bundle`, which
checks the hash and every field by the rules of the tablet's own file: the
holiday text by hallcore.workdays' parser, the kiosk settings by
hallcore.kiosksettings (bounds and timeout > reminder) merged over the
tablet's own values, pinned keys (`[bundle] pinned`) kept local.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from hallcore.config import ConfigError, Table
from hallcore.images import image_size
from hallcore.kiosksettings import SETTINGS, KioskSettings, read_settings
from hallcore.record import MAX_TEXT
from hallcore.workdays import WorkCalendar, YearOverride, parse_override_text

SCHEMA = 1
MAX_BUNDLE_BYTES = 2 * 1024 * 1024     # 20 photos of 48 KiB in base64 plus the rest, with room
MAX_HOLIDAY_CHARS = 256 * 1024         # a holiday file is a few KB
MAX_STAFF = 20                         # shown on one window's idle screen
MAX_PHOTO_BYTES = 48 * 1024            # an ID photo (e.g. 295 x 413 JPEG) is 10-30 KB
MAX_PHOTO_SIDE = 1024                  # pixels: what a photo may decode to
VERSION_CHARS = 16
HOLIDAYS, STAFF = "holidays", "staff"
PINNABLE = SETTINGS + (HOLIDAYS, STAFF)  # what `[bundle] pinned` may name
_CONTENT_KEYS = {"hall_id", "window_id", HOLIDAYS, "kiosk", STAFF}
_ENVELOPE_KEYS = {"schema", "version", "sha256", "content"}
_HEX = frozenset("0123456789abcdef")


class BundleError(ValueError):
    """A bundle the tablet refuses; the message says which field and why."""


@dataclass(frozen=True)
class StaffCard:
    """Who serves at the window, as the idle screen shows them."""
    id: str
    name: str
    photo: bytes | None = None
    photo_type: str | None = None      # hallcore.images.PNG | JPEG


@dataclass(frozen=True)
class Bundle:
    version: str
    sha256: str
    hall_id: str
    window_id: str
    holidays_text: str | None
    holidays: Mapping[int, YearOverride] | None
    kiosk: Mapping[str, Any]           # the settings the center sets, raw (checked with the tablet's)
    staff: tuple[StaffCard, ...]

    @property
    def etag(self) -> str:
        return f'"{self.sha256}"'


# ------------------------------------------------------------------ making

def canonical(obj: Any) -> bytes:
    """The one byte form the hash is of: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, ensure_ascii=False, sort_keys=True, separators=(",", ":"),
                      allow_nan=False).encode("utf-8")


def photo_field(data: bytes) -> dict[str, str]:
    """A photo as the bundle carries it; the caller checked `photo_problem(data)` is None."""
    size = image_size(data)
    if size is None or photo_problem(data):
        raise ValueError("photo_field of a photo that cannot be shown")
    return {"type": size[0], "data": base64.b64encode(data).decode("ascii")}


def seal(content: Mapping[str, Any]) -> tuple[bytes, str]:
    """(the envelope's bytes, sha256) for `content`."""
    content = dict(content)
    sha = hashlib.sha256(canonical(content)).hexdigest()
    body = canonical({"schema": SCHEMA, "version": sha[:VERSION_CHARS], "sha256": sha, "content": content})
    return body, sha


def photo_problem(data: bytes) -> str | None:
    """Why a photo cannot be shown on a kiosk, or None."""
    if len(data) > MAX_PHOTO_BYTES:
        return f"is {len(data)} bytes, over {MAX_PHOTO_BYTES}"
    size = image_size(data)
    if size is None:
        return "is no PNG or JPEG image"
    _, w, h = size
    if w > MAX_PHOTO_SIDE or h > MAX_PHOTO_SIDE:
        return f"is {w} x {h} pixels, over {MAX_PHOTO_SIDE} x {MAX_PHOTO_SIDE}"
    return None


# ------------------------------------------------------------------ reading

def _text(v: Any, what: str, limit: int = MAX_TEXT) -> str:
    if not isinstance(v, str) or not v.strip() or len(v) > limit or any(c < " " for c in v):
        raise BundleError(f"{what}: expected one line of 1-{limit} characters, got {str(v)[:40]!r}")
    return v


def _staff(rows: Any) -> tuple[StaffCard, ...]:
    if not isinstance(rows, list):
        raise BundleError("staff: expected a list")
    if len(rows) > MAX_STAFF:
        raise BundleError(f"staff: {len(rows)} people, at most {MAX_STAFF}")
    out, seen = [], set()
    for i, row in enumerate(rows):
        where = f"staff[{i}]"
        if not isinstance(row, dict) or set(row) != {"id", "name", "photo"}:
            raise BundleError(f"{where}: expected {{id, name, photo}}")
        sid, name = _text(row["id"], f"{where}.id"), _text(row["name"], f"{where}.name")
        if sid in seen:
            raise BundleError(f"{where}.id: {sid!r} is listed twice")
        seen.add(sid)
        photo, kind = None, None
        p = row["photo"]
        if p is not None:
            if not isinstance(p, dict) or set(p) != {"type", "data"} or not isinstance(p["data"], str):
                raise BundleError(f"{where}.photo: expected null or {{type, data}}")
            if len(p["data"]) > (MAX_PHOTO_BYTES + 2) // 3 * 4:
                raise BundleError(f"{where}.photo: over {MAX_PHOTO_BYTES} bytes")
            try:
                photo = base64.b64decode(p["data"], validate=True)
            except (binascii.Error, ValueError):
                raise BundleError(f"{where}.photo.data: not base64") from None
            problem = photo_problem(photo)
            if problem:
                raise BundleError(f"{where}.photo {problem}")
            kind = image_size(photo)[0]
            if p["type"] != kind:
                raise BundleError(f"{where}.photo.type: says {str(p['type'])[:40]!r}, the data is {kind}")
        out.append(StaffCard(sid, name, photo, kind))
    return tuple(out)


def parse_bundle(raw: bytes, *, hall_id: str, window_id: str) -> Bundle:
    """The envelope's bytes, checked: size, JSON, hash, this tablet's window,
    the holiday text and the staff. The kiosk settings are checked against the
    tablet's own with `kiosk_settings`. Raises BundleError."""
    if len(raw) > MAX_BUNDLE_BYTES:
        raise BundleError(f"{len(raw)} bytes, over {MAX_BUNDLE_BYTES}")
    try:
        env = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise BundleError(f"not JSON: {str(e)[:200]}") from None
    if not isinstance(env, dict) or set(env) != _ENVELOPE_KEYS:
        raise BundleError(f"expected an object with {', '.join(sorted(_ENVELOPE_KEYS))}")
    if env["schema"] != SCHEMA or isinstance(env["schema"], bool):
        raise BundleError(f"schema {str(env['schema'])[:20]} is not {SCHEMA}: update this tablet's software")
    sha = env["sha256"]
    if not isinstance(sha, str) or len(sha) != 64 or not set(sha) <= _HEX:
        raise BundleError("sha256: expected 64 lowercase hex digits")
    content = env["content"]
    if not isinstance(content, dict):
        raise BundleError("content: expected an object")
    try:
        actual = hashlib.sha256(canonical(content)).hexdigest()
    except ValueError as e:          # NaN or Infinity in it
        raise BundleError(f"content: {e}") from None
    if actual != sha:
        raise BundleError(f"sha256 mismatch: the content hashes to {actual[:16]}, the bundle says {sha[:16]} "
                          "(damaged on the way or on disk)")
    if env["version"] != sha[:VERSION_CHARS]:
        raise BundleError(f"version {str(env['version'])[:20]!r} is not the start of its sha256")
    missing, unknown = _CONTENT_KEYS - set(content), set(content) - _CONTENT_KEYS
    if missing or unknown:
        raise BundleError(f"content: missing {sorted(missing)}, unknown {sorted(unknown)}")
    if (content["hall_id"], content["window_id"]) != (hall_id, window_id):
        raise BundleError(f"it is for hall {str(content['hall_id'])[:64]!r} window "
                          f"{str(content['window_id'])[:64]!r}; this tablet is hall {hall_id!r} "
                          f"window {window_id!r} (enrolled for another window on the center?)")
    text, holidays = content[HOLIDAYS], None
    if text is not None:
        if not isinstance(text, str) or len(text) > MAX_HOLIDAY_CHARS:
            raise BundleError(f"holidays: expected the override file's text (at most {MAX_HOLIDAY_CHARS} "
                              "characters) or null")
        try:
            holidays = parse_override_text(text, source="bundle holidays")
        except ConfigError as e:
            raise BundleError(f"holidays: {e}") from None
    if not isinstance(content["kiosk"], dict):
        raise BundleError("kiosk: expected an object")
    return Bundle(version=sha[:VERSION_CHARS], sha256=sha, hall_id=hall_id, window_id=window_id,
                  holidays_text=text, holidays=holidays, kiosk=dict(content["kiosk"]),
                  staff=_staff(content[STAFF]))


# ------------------------------------------------------------ what applies

def check_pinned(names: Iterable[Any], where: Table, key: str = "pinned") -> frozenset[str]:
    """`[bundle] pinned`: every name must be one the bundle carries."""
    out = set()
    for i, name in enumerate(names):
        if name not in PINNABLE:
            raise where.error(f"{key}[{i}]", f"{name!r} is not something the center's bundle sets",
                              f"use any of: {', '.join(PINNABLE)}")
        out.add(name)
    return frozenset(out)


def kiosk_settings(local: Mapping[str, Any], bundle: Bundle | None,
                   pinned: frozenset[str] = frozenset()) -> KioskSettings:
    """The settings the kiosk runs with: the tablet's own values (its [kiosk]
    SETTINGS keys), the bundle's on top except pinned keys. The bundle must
    also pass on its own over the tablet's values (a bad value is refused
    even where a pin would hide it). Raises BundleError naming the key."""
    if bundle is None:
        return read_settings(Table(dict(local), "kiosk"))
    source = f"bundle {bundle.version}"
    everything = {**local, **bundle.kiosk}
    effective = {**local, **{k: v for k, v in bundle.kiosk.items() if k not in pinned}}
    for values, note in ((everything, ""), (effective, " (with this tablet's pinned values)")):
        t = Table(values, "kiosk", source)
        try:
            settings = read_settings(t)
            t.reject_unknown()
        except ConfigError as e:
            raise BundleError(f"{e.key}: {e.problem}{note}") from None
    return settings


def work_calendar(local: WorkCalendar, bundle: Bundle | None, pinned: frozenset[str] = frozenset()) -> WorkCalendar:
    """The center's calendar when the bundle carries one and `holidays` is not pinned."""
    if bundle is None or bundle.holidays is None or HOLIDAYS in pinned:
        return local
    return WorkCalendar(overrides=bundle.holidays)


def staff_cards(bundle: Bundle | None, pinned: frozenset[str] = frozenset()) -> tuple[StaffCard, ...]:
    return () if bundle is None or STAFF in pinned else bundle.staff


__all__ = ["Bundle", "BundleError", "HOLIDAYS", "MAX_BUNDLE_BYTES", "MAX_PHOTO_BYTES", "MAX_STAFF", "PINNABLE",
           "SCHEMA", "STAFF", "StaffCard", "canonical", "check_pinned", "kiosk_settings", "parse_bundle",
           "photo_field", "photo_problem", "seal", "staff_cards", "work_calendar"]
