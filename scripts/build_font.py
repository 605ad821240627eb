#!/usr/bin/env python3
"""Build assets/fonts/NotoSansSC-Hall-{Regular,Bold}.otf.

Kivy's default font has no CJK glyphs, and Kivy opens face 0 of a .ttc,
which in Debian's Noto Sans CJK is the Japanese face. So we take the
Simplified Chinese face (picked by name, not by index) of fonts-noto-cjk and
subset it to every character GBK can encode plus ASCII and the kiosk's own
symbols: small enough to ship, wide enough for any matter or staff name the
queue system can send in GBK. Licence: SIL OFL 1.1 (copied next to the font).

Usage: python scripts/build_font.py [--src-dir /usr/share/fonts/opentype/noto]
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from fontTools import subset
from fontTools.ttLib import TTCollection

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "assets" / "fonts"
FAMILY = "Noto Sans SC Hall"
DEBIAN_COPYRIGHT = Path("/usr/share/doc/fonts-noto-cjk/copyright")


def gbk_chars() -> set[str]:
    """Every character of the GBK double-byte table (lead 0x81-0xFE)."""
    chars: set[str] = set()
    for lead in range(0x81, 0xFF):
        for trail in list(range(0x40, 0x7F)) + list(range(0x80, 0xFF)):
            try:
                chars.add(bytes((lead, trail)).decode("gbk"))
            except UnicodeDecodeError:
                pass
    return chars


def ui_chars() -> set[str]:
    sys.path.insert(0, str(ROOT))
    from hallcore.record import DEFAULT_BAD_REVIEW_REASONS, SCALES
    from kiosk.ui import strings
    text = "".join(strings.all_strings()) + "".join(DEFAULT_BAD_REVIEW_REASONS)
    text += "".join(lv.label for sc in SCALES.values() for lv in sc.levels)
    return set(text) | set("“”‘’·…—–×÷√★☆●○■□▲△←→↑↓✓✔✕✖⌫")


def sc_face(ttc_path: Path):
    for font in TTCollection(str(ttc_path)).fonts:
        name = font["name"].getDebugName(1) or ""
        if name.strip() == "Noto Sans CJK SC":
            return font
    raise SystemExit(f"{ttc_path}: no 'Noto Sans CJK SC' face found")


def build(ttc_path: Path, style: str, wanted: set[str]) -> tuple[Path, int]:
    font = sc_face(ttc_path)
    cmap = font.getBestCmap()
    codepoints = sorted(ord(c) for c in wanted if ord(c) in cmap)
    opts = subset.Options()
    opts.layout_features = ["kern", "vert", "locl", "palt", "vkna"]
    opts.hinting = False           # big type on a tablet: hints buy nothing, cost MBs
    opts.name_IDs = ["*"]
    opts.name_languages = ["*"]
    opts.notdef_outline = True
    opts.desubroutinize = False
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=codepoints)
    sub.subset(font)
    # A modified OFL font is renamed so it is not mistaken for the original.
    names = font["name"]
    for rec in list(names.names):
        if rec.nameID in (1, 16):
            names.setName(FAMILY, rec.nameID, rec.platformID, rec.platEncID, rec.langID)
        elif rec.nameID == 4:
            names.setName(f"{FAMILY} {style}", 4, rec.platformID, rec.platEncID, rec.langID)
        elif rec.nameID == 6:
            names.setName(f"NotoSansSCHall-{style}", 6, rec.platformID, rec.platEncID, rec.langID)
    out = OUT / f"NotoSansSC-Hall-{style}.otf"
    font.save(str(out))
    return out, len(codepoints)


def write_licence() -> None:
    """The SIL-1.1 text from Debian's copyright file, as OFL.txt."""
    text = DEBIAN_COPYRIGHT.read_text(encoding="utf-8")
    m = re.search(r"^License: SIL-1\.1\n((?: .*\n?)+)", text, re.M)
    if not m:
        raise SystemExit(f"{DEBIAN_COPYRIGHT}: SIL-1.1 licence text not found")
    body = "\n".join("" if ln.strip() == "." else ln[1:] for ln in m.group(1).splitlines())
    head = ("Noto Sans CJK: Copyright 2014-2021 Adobe (http://www.adobe.com/), "
            "with Reserved Font Name 'Source'.\n"
            "NotoSansSC-Hall-*.otf are subsets of the Simplified Chinese face, "
            "renamed \"Noto Sans SC Hall\".\n\n")
    (OUT / "OFL.txt").write_text(head + body + "\n", encoding="utf-8")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src-dir", default="/usr/share/fonts/opentype/noto", type=Path)
    ap.add_argument("--no-bold", action="store_true")
    args = ap.parse_args(argv)
    OUT.mkdir(parents=True, exist_ok=True)
    wanted = gbk_chars() | ui_chars() | {chr(c) for c in range(0x20, 0x7F)}
    styles = [("Regular", "NotoSansCJK-Regular.ttc")]
    if not args.no_bold:
        styles.append(("Bold", "NotoSansCJK-Bold.ttc"))
    for style, src in styles:
        out, n = build(args.src_dir / src, style, wanted)
        print(f"{out.relative_to(ROOT)}: {n} characters, {out.stat().st_size / 2**20:.1f} MiB")
    write_licence()
    return 0


if __name__ == "__main__":
    sys.exit(main())
