"""`hall-kiosk --check` opens the font, the kv rules and the voice prompts (kiosk/preflight.py)."""
from __future__ import annotations

import subprocess
import sys
import wave
from pathlib import Path

import pytest
from fontTools import subset
from fontTools.ttLib import TTFont
from fontTools.ttLib.ttCollection import TTCollection

from hallcore.config import ConfigError
from kiosk import preflight
from kiosk.cli import main
from kiosk.config import DEFAULT_FONT, load_kiosk_config
from kiosk.flow import FlowSettings
from kiosk.ui import KV_FILE
from kiosk.ui.sounds import PROMPTS, SOUNDS_DIR
from tests.support.paths import CONFIG
from tests.support.tablet_toml import write_tablet

SETTINGS = FlowSettings("tab-03", "430922", "taojiang", "03", scale=5, reasons=("排队太久", "其他"))


def _subset(folder: Path, name: str, text: str) -> Path:
    """A small font with the shipped font's glyphs for `text` only."""
    font = TTFont(str(DEFAULT_FONT))
    sub = subset.Subsetter()
    sub.populate(text=text)
    sub.subset(font)
    path = folder / name
    font.save(str(path))
    return path


@pytest.fixture(scope="module")
def fonts(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fonts")
    full = _subset(folder, "ui.otf", "".join(preflight.shown_texts(SETTINGS)))
    latin = _subset(folder, "latin.otf", "".join(chr(c) for c in range(0x20, 0x7f)))
    ttc = TTCollection()
    ttc.fonts = [TTFont(str(full)), TTFont(str(latin))]
    ttc.save(str(folder / "ui.ttc"))
    return {"full": full, "latin": latin, "ttc": folder / "ui.ttc"}


def test_the_shipped_files_all_open_and_are_the_ones_checked(tmp_path):
    config = load_kiosk_config(CONFIG / "demo.toml")
    checked = preflight.check_files(config)
    assert checked == [DEFAULT_FONT, DEFAULT_FONT.with_name("NotoSansSC-Hall-Bold.otf"), KV_FILE,
                       *(SOUNDS_DIR / f"{n}.wav" for n in PROMPTS)]
    assert all(p.is_file() for p in checked)
    quiet = load_kiosk_config(write_tablet(tmp_path, {"kiosk.audio": False}))
    assert not any(p.suffix == ".wav" for p in preflight.check_files(quiet))   # no audio: no prompt used


def test_texts_follow_the_configured_scale_and_reasons():
    texts = preflight.shown_texts(SETTINGS)
    assert {"排队太久", "非常不满意", "请至少选择一项原因"} <= set(texts)
    assert "服务态度不热情" not in texts          # a default reason this config replaced


def test_missing_glyphs_are_listed_once_each_in_the_texts_order():
    assert preflight.missing_glyphs(map(ord, "ab满"), ["满意 ab", "意a\n", "差评"]) == "意差评"
    assert preflight.missing_glyphs([], [" \t"]) == ""


def test_a_font_with_the_kiosk_s_texts_passes_also_as_a_collection(fonts):
    texts = preflight.shown_texts(SETTINGS)
    preflight.check_font(fonts["full"], texts, source="tablet.toml")
    preflight.check_font(fonts["ttc"], texts, source="tablet.toml")   # Kivy shows a .ttc's first face


def test_a_font_without_chinese_is_refused_naming_it_and_the_characters(fonts):
    with pytest.raises(ConfigError) as e:
        preflight.check_font(fonts["latin"], ["满意", "abc"], source="tablet.toml")
    assert e.value.key == "kiosk.font" and e.value.source == "tablet.toml"
    assert str(fonts["latin"]) in e.value.problem and "2 characters" in e.value.problem
    assert "满意" in e.value.problem and "Simplified Chinese" in e.value.fix


def test_a_file_that_is_no_font_is_refused(tmp_path):
    bad = tmp_path / "hall.ttf"
    bad.write_bytes(b"\0" * 64)
    with pytest.raises(ConfigError) as e:
        preflight.check_font(bad, ["满意"], source="tablet.toml")
    assert "cannot be opened as a font" in e.value.problem and str(bad) in e.value.problem


def test_check_exits_2_on_a_configured_font_without_chinese(tmp_path, fonts, capsys):
    path = write_tablet(tmp_path, {"kiosk.font": str(fonts["latin"])})
    assert main(["--config", str(path), "--check"]) == 2
    err = capsys.readouterr().err
    assert "kiosk.font" in err and str(fonts["latin"]) in err and "has no glyph" in err


def test_kv_rules_that_do_not_parse_are_refused_naming_the_file(tmp_path):
    preflight.check_kv(KV_FILE)
    bad = tmp_path / "kiosk.kv"
    bad.write_text(KV_FILE.read_text(encoding="utf-8") + "\n<Broken@Label>:\n    text: (1 +\n",
                   encoding="utf-8")
    with pytest.raises(ConfigError) as e:
        preflight.check_kv(bad)
    assert e.value.source == str(bad) and "reinstall" in e.value.fix
    with pytest.raises(ConfigError):
        preflight.check_kv(tmp_path / "missing.kv")


def _wav(path: Path, frames: int) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(b"\0\0" * frames)
    return path


@pytest.mark.parametrize("make,problem", [
    (lambda p: p.write_bytes(b"ID3 not a wave"), "cannot be read as WAV"),
    (lambda p: p.write_bytes(b""), "cannot be read as WAV"),
    (lambda p: _wav(p, 0), "no sound frames"),
    (lambda p: None, "No such file"),
])
def test_a_voice_prompt_that_is_not_a_wav_stops_the_check_naming_it(tmp_path, make, problem, capsys,
                                                                     monkeypatch):
    folder = tmp_path / "sounds"
    folder.mkdir()
    for name in PROMPTS:
        _wav(folder / f"{name}.wav", 160)
    broken = folder / f"{PROMPTS[1]}.wav"
    broken.unlink()
    make(broken)
    monkeypatch.setattr(preflight, "SOUNDS_DIR", folder)
    config = write_tablet(tmp_path)
    assert main(["--config", str(config), "--check"]) == 2
    err = capsys.readouterr().err
    assert str(broken) in err and problem in err and "audio = false" in err
    assert main(["--config", str(write_tablet(tmp_path, {"kiosk.audio": False})), "--check"]) == 0


def test_the_message_survives_kivy_s_import_in_the_real_command(tmp_path):
    """The sounds are checked after the kv, so after Kivy is imported: Kivy must
    not have taken over stderr (it would swallow the message)."""
    folder = tmp_path / "sounds"
    folder.mkdir()
    (folder / f"{PROMPTS[0]}.wav").write_bytes(b"junk\n")
    code = ("import sys; from pathlib import Path; from kiosk import preflight, cli; "
            f"preflight.SOUNDS_DIR = Path({str(folder)!r}); "
            f"sys.exit(cli.main(['--config', {str(write_tablet(tmp_path))!r}, '--check']))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert out.returncode == 2, out.stderr
    assert f"{folder / PROMPTS[0]}.wav" in out.stderr and "the file ends early" in out.stderr
