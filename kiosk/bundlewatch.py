"""The kiosk's side of the center's bundle (DESIGN.md §4.9, §9.2).

hall-agent writes `<storage>/bundle.json` atomically once it has accepted
a bundle; the kiosk looks at the file's stamp on every tick (one stat),
reads a changed file with the agent's checks (hallcore.bundlefile) and
turns it into the kiosk's config (kiosk.config.with_bundle). The app
applies that config only while the flow is idle. A file that does not
read is logged and counted, and the kiosk keeps what it runs with.
"""
from __future__ import annotations

import logging
import os

from hallcore.bundle import BundleError
from hallcore.bundlefile import read_stored
from kiosk.config import KioskConfig, with_bundle

log = logging.getLogger(__name__)


def _stamp(path) -> tuple[int, int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino)


class BundleWatch:
    def __init__(self, local: KioskConfig):
        """`local`: the tablet file's config, as load_kiosk_config read it."""
        self.local = local
        self.path = local.tablet.bundle_path
        self._stamp: tuple[int, int, int] | None = None
        self.problem: str | None = None     # why the file last seen was not used (admin screen)
        self.refused = 0

    def initial(self) -> KioskConfig:
        """At start: the stored bundle applied, or the file's config alone."""
        return self.poll(force=True) or self.local

    def poll(self, *, force: bool = False) -> KioskConfig | None:
        """The config of a bundle file that changed since the last look and
        reads; None when nothing changed, there is none, or it cannot be used."""
        stamp = _stamp(self.path)
        if stamp == self._stamp and not force:
            return None
        self._stamp = stamp
        if stamp is None:
            return None     # removed: keep what runs; the agent writes it again
        try:
            bundle = read_stored(self.local.tablet)
            config = with_bundle(self.local, bundle) if bundle is not None else None
        except BundleError as e:
            self.refused += 1
            self.problem = str(e)[:300]
            log.error("Kiosk: bundle file %s not used (keeping the settings in use): %s", self.path, e)
            return None
        self.problem = None
        if config is not None:
            log.info("Kiosk: bundle %s read (applied when idle)", config.bundle.version)
        return config


__all__ = ["BundleWatch"]
