"""Bundles for tests (hallcore/bundle.py): sealed as the center seals them,
tampered as a broken center or disk would, and small real images."""
from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Any

from hallcore.bundle import photo_field, seal

HOLIDAYS_2027 = """\
# >>> [2027] test
[2027]
holidays = ["2027-01-01..2027-01-03", "2027-02-06..2027-02-12", "2027-10-01..2027-10-07"]
workdays = ["2027-02-14", "2027-10-09"]
# <<< [2027]
"""


def png(width: int, height: int, draw=None) -> bytes:
    """A real RGB PNG; `draw(x, y) -> (r, g, b)` paints it (default: a grey
    silhouette of a head and shoulders on light blue, like an ID photo)."""
    def paint(x: int, y: int) -> tuple[int, int, int]:
        cx, u = width / 2, min(width, height)
        head = (x - cx) ** 2 + (y - height * 0.36) ** 2 < (u * 0.22) ** 2
        body = y > height * 0.62 and abs(x - cx) < u * 0.42 * min(1.0, (y - height * 0.55) / (height * 0.2))
        return (90, 96, 110) if head or body else (205, 225, 245)
    draw = draw or paint
    raw = b"".join(b"\x00" + b"".join(bytes(draw(x, y)) for x in range(width)) for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def noisy_png(width: int, height: int, seed: int = 0) -> bytes:
    """A PNG that does not compress (a photo's size, not a drawing's)."""
    def draw(x: int, y: int) -> tuple[int, int, int]:
        h = ((x + 1) * 73856093 ^ (y + 1) * 19349663 ^ (seed + 1) * 83492791) * 2654435761
        return (h >> 8) & 0xFF, (h >> 16) & 0xFF, (h >> 24) & 0xFF
    return png(width, height, draw)


def staff_entry(sid: str, name: str, photo: bytes | None = None) -> dict[str, Any]:
    return {"id": sid, "name": name, "photo": photo_field(photo) if photo else None}


def content(*, hall_id: str = "taojiang", window_id: str = "03", holidays: str | None = None,
            kiosk: dict[str, Any] | None = None, staff: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"hall_id": hall_id, "window_id": window_id, "holidays": holidays, "kiosk": kiosk or {},
            "staff": staff or []}


def sealed(**kw: Any) -> bytes:
    """A bundle as the center answers it."""
    return seal(content(**kw))[0]


def tampered(raw: bytes, change) -> bytes:
    """`raw` with `change(envelope)` applied and the old sha256 kept (what a
    damaged transfer or disk would give)."""
    env = json.loads(raw)
    change(env)
    return json.dumps(env, ensure_ascii=False).encode("utf-8")


def resealed(raw: bytes, change) -> bytes:
    """`raw` with `change(content)` applied and sealed again (a center sending a bad value)."""
    env = json.loads(raw)
    change(env["content"])
    return seal(env["content"])[0]


def write_bundle(folder: Path, raw: bytes) -> Path:
    """As hall-agent stores it (atomically)."""
    from hallcore.fsutil import atomic_write_bytes
    path = Path(folder) / "bundle.json"
    atomic_write_bytes(path, raw)
    return path
