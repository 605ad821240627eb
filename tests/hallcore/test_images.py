"""hallcore/images.py: a photo's type and size from its header, without decoding it."""
import struct

from hallcore.images import JPEG, PNG, image_size
from tests.support.bundles import png


def jpeg_header(width: int, height: int, *, app_segments: int = 1) -> bytes:
    """SOI, APP0 (JFIF) segments, a DQT, then SOF0 with the size: as cameras write."""
    out = b"\xff\xd8"
    for _ in range(app_segments):
        out += b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"
    out += b"\xff\xdb" + struct.pack(">H", 67) + bytes(65)
    out += b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3) + bytes(9)
    return out + b"\xff\xda\x00\x08" + bytes(6) + b"\xff\xd9"


def test_a_png_s_size_is_read_from_its_header():
    assert image_size(png(30, 40)) == (PNG, 30, 40)


def test_a_jpeg_s_size_is_read_from_its_frame_header():
    assert image_size(jpeg_header(295, 413)) == (JPEG, 295, 413)
    assert image_size(jpeg_header(640, 480, app_segments=5)) == (JPEG, 640, 480)


def test_a_progressive_jpeg_is_read_too():
    data = jpeg_header(100, 120).replace(b"\xff\xc0", b"\xff\xc2")
    assert image_size(data) == (JPEG, 100, 120)


def test_what_is_no_png_or_jpeg_or_is_cut_short_is_none():
    for data in (b"", b"GIF89a....", b"\x89PNG\r\n\x1a\n", png(3, 3)[:20], b"\xff\xd8",
                 jpeg_header(10, 10)[:30], b"\xff\xd8\xff\xda\x00\x08" + bytes(20),
                 b"\xff\xd8\xff\xe0\x00\x01"):        # a segment length below 2 would loop
        assert image_size(data) is None, data[:12]


def test_a_zero_size_image_is_refused():
    assert image_size(jpeg_header(0, 10)) is None
    assert image_size(png(3, 3)[:16] + struct.pack(">II", 0, 3) + png(3, 3)[24:]) is None


def test_a_png_claiming_a_huge_size_reports_it_so_it_can_be_refused():
    bomb = png(3, 3)[:16] + struct.pack(">II", 30000, 30000) + png(3, 3)[24:]
    assert image_size(bomb) == (PNG, 30000, 30000)
