"""The kiosk's view of the tablet's TOML file (DESIGN.md section 6).

`load_kiosk_config(path)` reads the shared tables (hallcore.tablet), then
[kiosk], [admin] and [queue]; any bad key or value raises ConfigError naming
the key and the fix, so `hall-kiosk --config FILE` exits before showing a
half-configured screen. config/example.toml documents every key.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from hallcore import bundle as center_bundle
from hallcore.bundle import Bundle, StaffCard
from hallcore.config import Table
from hallcore.kiosksettings import KioskSettings, read_settings
from hallcore.packagedata import ASSETS, shipped
from hallcore.tablet import TabletConfig, load_tablet_file
from kiosk import admin
from kiosk.flow import FlowSettings
from kiosk.sources import open_source

# The font the UI ships (assets/fonts/, built by scripts/build_font.py): Simplified
# Chinese, every character GBK encodes. A system font may be named instead.
DEFAULT_FONT = shipped(ASSETS, "fonts", "NotoSansSC-Hall-Regular.otf")


def bold_of(regular: Path) -> Path | None:
    """The bold face next to a "-Regular" font file, if there is one (Kivy's bold labels)."""
    candidate = regular.with_name(regular.name.replace("-Regular", "-Bold"))
    return candidate if candidate != regular and candidate.exists() else None


TEST_OUTBOX = "test-outbox"          # in [storage] folder; test mode only
TEST_JOURNAL = "test-journal.json"


@dataclass(frozen=True)
class KioskConfig:
    path: Path
    tablet: TabletConfig           # device, office, storage (shared with the agent)
    flow: FlowSettings             # everything the evaluation flow decides with
    fullscreen: bool
    font: Path
    audio: bool
    volume: float                  # 0.0 .. 1.0
    pin_hash: str | None           # None: the admin screen cannot be opened
    queue: dict[str, Any]          # the raw [queue] table, see queue_table()
    test_mode: bool = False        # installation checks: records kept apart, never sent
    staff: tuple[StaffCard, ...] = ()   # who serves at this window (the center's bundle)
    bundle: Bundle | None = None   # the bundle applied (with_bundle), None: this file only

    @property
    def outbox_folder(self) -> Path:
        """Where the kiosk puts records. In test mode a folder the agent never
        reads, so installation taps reach no statistics and open no case, and
        the real outbox's seq stays without gaps."""
        t = self.tablet
        return t.storage / TEST_OUTBOX if self.test_mode else t.outbox_folder

    @property
    def journal_path(self) -> Path:
        t = self.tablet
        return t.storage / TEST_JOURNAL if self.test_mode else t.journal_path

    def queue_table(self) -> Table:
        """A fresh [queue] Table for kiosk.sources.open_source(table, hall_id=, window_id=, config_dir=)."""
        return Table(self.queue, "queue", str(self.path))

    def open_source(self):
        """The ticket source [queue] names (kiosk.sources.TicketSource), validated, not started."""
        return open_source(self.queue_table(), hall_id=self.tablet.hall_id, window_id=self.tablet.window_id,
                           config_dir=self.tablet.config_dir)


def _with_settings(flow: FlowSettings, s: KioskSettings) -> FlowSettings:
    return replace(flow, scale=s.scale, reasons=s.reasons, reminder_after_s=s.reminder_after_s,
                   timeout_s=s.timeout_s, thanks_s=s.thanks_s)


def kiosk_tables(root: Table, tablet: TabletConfig, path: Path) -> KioskConfig:
    k = root.table("kiosk")
    settings = read_settings(k)      # scale, reasons, timeouts, test mode: the rules a bundle is read by too
    flow = _with_settings(FlowSettings(
        device_id=tablet.device_id, region_code=tablet.region_code, hall_id=tablet.hall_id,
        window_id=tablet.window_id,
        carry_over_guard_s=k.float("carry_over_guard_s", 0.3, min=0, max=2),
        stale_after_s=k.float("stale_after_s", 600.0, min=60, max=86400),
        closing=tablet.closing, calendar=tablet.calendar), settings)
    fullscreen = k.bool("fullscreen", True)
    font = k.path("font", None, base=tablet.config_dir, must_exist=True) or DEFAULT_FONT
    audio = k.bool("audio", True)
    volume = k.float("volume", 0.8, min=0.0, max=1.0)
    test_mode = settings.test_mode
    k.reject_unknown()

    a = root.table("admin")
    pin_hash = a.str("pin_hash", None)
    if pin_hash is not None:
        try:
            admin.parse_pin_hash(pin_hash)
        except ValueError as e:
            raise a.error("pin_hash", str(e), "generate one with `hall-kiosk hash-pin` and paste it") from None
    a.reject_unknown()

    if not root.has("queue"):
        raise root.error("queue", "is missing", 'add a [queue] table with source = "mqtt" or "serial"')
    config = KioskConfig(path=path, tablet=tablet, flow=flow, fullscreen=fullscreen, font=font,
                         audio=audio, volume=volume, pin_hash=pin_hash, queue=root.table("queue").data,
                         test_mode=test_mode)
    config.open_source()   # validates [queue] now (builds the source; nothing is opened or started)
    return config


def with_bundle(config: KioskConfig, bundle: Bundle | None) -> KioskConfig:
    """`config` (this file's, as load_kiosk_config read it) with the center's
    bundle applied: its kiosk settings, calendar and staff, except what
    `[bundle] pinned` keeps local. None: this file's alone. Raises
    hallcore.bundle.BundleError when the bundle cannot apply to this tablet."""
    t = config.tablet
    settings = center_bundle.kiosk_settings(t.kiosk_values, bundle, t.pinned)
    flow = replace(_with_settings(config.flow, settings),
                   calendar=center_bundle.work_calendar(t.calendar, bundle, t.pinned))
    return replace(config, flow=flow, test_mode=settings.test_mode,
                   staff=center_bundle.staff_cards(bundle, t.pinned), bundle=bundle)


def load_kiosk_config(path: str | Path) -> KioskConfig:
    """The whole kiosk configuration, validated; raises hallcore.config.ConfigError."""
    path = Path(path)
    root, tablet = load_tablet_file(path)
    return kiosk_tables(root, tablet, path)
