"""The shipped font covers everything the kiosk can show (no tofu boxes)."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from fontTools.ttLib import TTFont

from hallcore.record import SCALES
from kiosk import simulator
from kiosk.config import DEFAULT_FONT
from kiosk.flow import FlowSettings
from kiosk.preflight import missing_glyphs, shown_texts
from tests.support.paths import REPO

FONTS = [DEFAULT_FONT, DEFAULT_FONT.with_name("NotoSansSC-Hall-Bold.otf")]
KV_TEXT = re.compile(r'"([^"\n]*[^\x00-\x7f][^"\n]*)"')


def _cmap(path: Path) -> set[int]:
    return set(TTFont(str(path), lazy=True).getBestCmap())


def _missing(cmap: set[int], texts) -> dict[str, str]:
    return {text: gone for text in texts if (gone := missing_glyphs(cmap, [text]))}


def ui_texts() -> list[str]:
    """What hall-kiosk --check checks on either scale with the default reasons, and more."""
    texts = [t for scale in SCALES for t in shown_texts(FlowSettings("t", "430922", "h", "03", scale=scale))]
    for kv in (REPO / "kiosk" / "ui").glob("*.kv"):     # any literal left in a .kv file
        texts += KV_TEXT.findall(kv.read_text(encoding="utf-8"))
    texts += [name for _, name in simulator.STAFF]
    return texts


def sample_matter_names() -> list[str]:
    data = tomllib.loads((REPO / "config" / "matters.toml").read_text(encoding="utf-8"))
    names = [m["name"] for m in data["matters"]]
    assert len(names) >= 10
    return names


@pytest.mark.parametrize("font", FONTS, ids=lambda p: p.name)
def test_font_covers_every_ui_string_reason_and_sample_matter(font):
    cmap = _cmap(font)
    assert _missing(cmap, ui_texts()) == {}
    assert _missing(cmap, sample_matter_names()) == {}


def test_font_is_simplified_chinese_and_covers_gbk():
    font = TTFont(str(DEFAULT_FONT), lazy=True)
    assert font["name"].getDebugName(1) == "Noto Sans SC Hall"
    cmap = set(font.getBestCmap())
    # Characters the queue system may send in GBK: a sample across the table,
    # including rare surname characters of GBK's extension area.
    for ch in "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许何吕施张丞犇垚淼喆龑䶮":
        if ch.encode("gbk", errors="ignore"):
            assert ord(ch) in cmap, ch
    assert sum(1 for c in cmap if 0x4E00 <= c <= 0x9FFF) > 20000


def test_licence_and_build_script_ship_with_the_font():
    fonts = REPO / "assets" / "fonts"
    assert "SIL OPEN FONT LICENSE Version 1.1" in (fonts / "OFL.txt").read_text(encoding="utf-8")
    assert (REPO / "scripts" / "build_font.py").exists()
    assert sum(p.stat().st_size for p in fonts.glob("*.otf")) < 20 * 2**20
