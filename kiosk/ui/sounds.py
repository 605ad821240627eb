"""Voice prompts (assets/sounds/*.wav, made by assets/sounds/make_sounds.sh).

Optional: a tablet without audio, a missing file or a failing audio driver
only logs once; the screens never depend on a sound.
"""
from __future__ import annotations

import logging
from pathlib import Path

from hallcore.packagedata import ASSETS, shipped

log = logging.getLogger(__name__)

SOUNDS_DIR = shipped(ASSETS, "sounds")
PROMPTS = ("rate", "reminder", "thanks")   # what KioskApp plays: <name>.wav in SOUNDS_DIR


class Sounds:
    def __init__(self, volume: float, folder: Path = SOUNDS_DIR, enabled: bool = True):
        self.volume, self.folder, self.enabled = volume, Path(folder), enabled
        self._loaded: dict[str, object] = {}
        self.played: list[str] = []          # what was asked for (admin/tests)

    def play(self, name: str) -> None:
        if not self.enabled:
            return
        self.played.append(name)
        sound = self._loaded.get(name)
        if sound is None:
            sound = self._load(name)
            if sound is None:
                return
        try:
            sound.volume = self.volume
            sound.stop()
            sound.play()
        except Exception:    # an audio driver error must never reach the citizen's screen
            log.exception("playing %s failed; voice prompts off", name)
            self.enabled = False

    def _load(self, name: str):
        path = self.folder / f"{name}.wav"
        if not path.exists():
            log.warning("voice prompt %s missing; continuing without it", path)
            self._loaded[name] = None
            return None
        from kivy.core.audio import SoundLoader
        sound = SoundLoader.load(str(path))
        if sound is None:
            log.warning("no audio provider can play %s; voice prompts off", path)
            self.enabled = False
        self._loaded[name] = sound
        return sound
