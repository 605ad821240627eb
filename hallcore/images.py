"""What kind of image a staff photo is and how large it decodes (DESIGN.md §4.9). Pure.

The kiosk decodes a photo the center sent: a file of a few kilobytes can
claim 30000 x 30000 pixels (gigabytes once decoded), so the header is read
here, without decoding, and such a photo is refused before anything opens
it. Only PNG and JPEG, the formats any camera or ID-photo tool writes.
"""
from __future__ import annotations

import struct

PNG, JPEG = "image/png", "image/jpeg"
_PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
# JPEG start-of-frame markers (baseline, progressive, ...) hold the size; C4, C8, CC are not frames
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_MAX_SEGMENTS = 1000      # a real JPEG reaches its frame header within a few dozen segments


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(type, width, height) of a PNG or JPEG from its header, or None when
    `data` is neither or its header is broken."""
    if data.startswith(_PNG_MAGIC):
        if len(data) < 24 or data[12:16] != b"IHDR":
            return None
        width, height = struct.unpack(">II", data[16:24])
        return (PNG, width, height) if width and height else None
    if data.startswith(b"\xff\xd8"):
        return _jpeg_size(data)
    return None


def _jpeg_size(data: bytes) -> tuple[str, int, int] | None:
    i = 2
    for _ in range(_MAX_SEGMENTS):
        while i < len(data) and data[i] == 0xFF:     # fill bytes before a marker
            i += 1
        if i >= len(data) or data[i - 1] != 0xFF:
            return None
        marker = data[i]
        i += 1
        if marker in (0xD8, 0x01) or 0xD0 <= marker <= 0xD7:   # no length
            continue
        if marker in (0xD9, 0xDA):                   # end of image, start of scan: no frame seen
            return None
        if i + 2 > len(data):
            return None
        (length,) = struct.unpack(">H", data[i:i + 2])
        if length < 2:
            return None
        if marker in _SOF:
            if i + 7 > len(data):
                return None
            height, width = struct.unpack(">HH", data[i + 3:i + 7])
            return (JPEG, width, height) if width and height else None
        i += length
    return None


__all__ = ["JPEG", "PNG", "image_size"]
