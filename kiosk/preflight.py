"""What `hall-kiosk --check` opens besides the config file: the font, the kv
rules and the voice prompts the kiosk will use, so a wrong font or a broken
install shows at installation, not as empty boxes on the citizens' screen.

Each check raises ConfigError naming the file, and hall-kiosk exits 2 as for
any config error. The rules (which texts, which glyphs are missing) are pure;
opening the files is the thin part.
"""
from __future__ import annotations

import os
import sys
import wave
from pathlib import Path
from typing import Iterable

from hallcore.config import ConfigError
from hallcore.record import SCALES
from kiosk import flow as kiosk_flow
from kiosk.config import DEFAULT_FONT, KioskConfig, bold_of
from kiosk.flow import FlowSettings
from kiosk.ui import KV_FILE, strings
from kiosk.ui.sounds import PROMPTS, SOUNDS_DIR

REINSTALL = "the installed package is incomplete: reinstall hall-evaluation-terminal"
INSTALLED = "(installed file)"   # the ConfigError key for a file the package ships


def shown_texts(settings: FlowSettings) -> list[str]:
    """Every text the kiosk can show on these settings. Matter and staff names
    are not known here: they arrive with the queue's tickets."""
    texts = list(strings.all_strings())
    texts += [v for k, v in vars(kiosk_flow).items() if k.startswith("MSG_") and isinstance(v, str)]
    texts.append(kiosk_flow.GENERIC_MATTER.name)
    texts += settings.reasons
    texts += [lv.label for lv in SCALES[settings.scale].levels]
    return texts


def missing_glyphs(cmap: Iterable[int], texts: Iterable[str]) -> str:
    """The characters of `texts` the font has no glyph for, once each, in the texts' order."""
    have = set(cmap)
    return "".join(dict.fromkeys(c for t in texts for c in t if not c.isspace() and ord(c) not in have))


def check_font(path: Path, texts: Iterable[str], *, source: str) -> None:
    from fontTools.ttLib import TTFont, TTLibError

    fix = (REINSTALL if path == DEFAULT_FONT or path == bold_of(DEFAULT_FONT) else
           "name an OpenType or TrueType font with Simplified Chinese, or remove the key for the shipped one")
    try:
        cmap = TTFont(str(path), lazy=True, fontNumber=0).getBestCmap()   # fontNumber: a .ttc's first face, as Kivy
    except (OSError, TTLibError, AssertionError, ValueError) as e:
        raise ConfigError("kiosk.font", f"{path} cannot be opened as a font ({e})", fix, source=source) from None
    if not cmap:
        raise ConfigError("kiosk.font", f"{path} has no Unicode character map", fix, source=source)
    gone = missing_glyphs(cmap, texts)
    if gone:
        raise ConfigError("kiosk.font", f"{path} has no glyph for {len(gone)} characters the kiosk shows: "
                          f"{gone[:30]}{'…' if len(gone) > 30 else ''}", fix, source=source)


def check_kv(path: Path) -> None:
    """Parse the kv rules with Kivy's own parser (it also compiles every rule's
    Python and runs the #:import lines); nothing is applied, no window opens."""
    if "kivy" not in sys.modules:
        # A check prints its own lines: Kivy's records go to Python logging
        # (warnings only, on stderr), and Kivy must not take over sys.stderr,
        # or the check's own error message would vanish into Kivy's logger.
        os.environ.setdefault("KIVY_LOG_MODE", "PYTHON")
        os.environ.setdefault("KIVY_NO_FILELOG", "1")
    from kivy.lang.parser import Parser
    try:
        Parser(content=path.read_text(encoding="utf-8"), filename=str(path))
    except Exception as e:   # whatever stops Kivy reading it stops the kiosk: name the file
        raise ConfigError(INSTALLED, f"the kiosk's layout rules cannot be read ({type(e).__name__}: {e})",
                          REINSTALL, source=str(path)) from None


def check_sound(path: Path) -> None:
    try:
        with wave.open(str(path), "rb") as w:
            if w.getnframes() == 0:
                raise wave.Error("it has no sound frames")
    except (OSError, EOFError, wave.Error) as e:
        why = str(e) or ("the file ends early" if isinstance(e, EOFError) else type(e).__name__)
        raise ConfigError(INSTALLED, f"the voice prompt cannot be read as WAV ({why})",
                          REINSTALL + ", or set [kiosk] audio = false", source=str(path)) from None


def check_files(config: KioskConfig) -> list[Path]:
    """Open every file the kiosk will use on this config; the files checked."""
    texts = shown_texts(config.flow)
    fonts = [config.font] + [b for b in (bold_of(config.font),) if b is not None]
    for font in fonts:
        check_font(font, texts, source=str(config.path))
    check_kv(KV_FILE)
    sounds = [SOUNDS_DIR / f"{name}.wav" for name in PROMPTS] if config.audio else []
    for sound in sounds:
        check_sound(sound)
    return fonts + [KV_FILE] + sounds
