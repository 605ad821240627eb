"""The tables of the tablet's TOML file that kiosk and agent share (DESIGN.md section 6).

    [device]   id, region_code, hall_id, window_id
    [office]   closing = "17:30", holiday_file, timezone = "Asia/Shanghai"
    [storage]  folder (the kiosk's journal; the outbox by default), outbox
    [bundle]   pinned = [...]: what the center's bundle may not change here

Each process reads these with `tablet_config(root, config_dir)` and then its
own tables; `check_tables` rejects a top-level table nobody owns, so a typo
like [kisok] is an error instead of silently using defaults.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import time
from pathlib import Path
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from hallcore.bundle import check_pinned
from hallcore.config import ConfigError, Table, load_toml
from hallcore.kiosksettings import local_values
from hallcore.record import is_region_code
from hallcore.workdays import DEFAULT_CLOSING, WorkCalendar

# Every table a tablet's file may have; each is validated by the part that owns it.
KNOWN_TABLES = ("device", "office", "storage", "bundle", "kiosk", "admin", "queue", "center", "agent")

# Ids end up in MQTT topics and URL paths: no '/', '+', '#', spaces.
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_CLOCK = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")

OUTBOX_DIR = "outbox"
JOURNAL_FILE = "kiosk-journal.json"
BUNDLE_FILE = "bundle.json"


@dataclass(frozen=True)
class TabletConfig:
    device_id: str
    region_code: str
    hall_id: str
    window_id: str
    closing: time
    holiday_file: Path | None
    timezone: ZoneInfo             # the hall's: what people read, which day a vote is (hallcore.hallclock)
    storage: Path
    outbox_folder: Path            # outbox.store.Outbox(outbox_folder, device_id): kiosk puts, agent sends
    config_dir: Path
    calendar: WorkCalendar = field(compare=False, repr=False)   # from holiday_file (the bundle's may replace it)
    pinned: frozenset[str] = frozenset()   # [bundle] pinned: hallcore.bundle.PINNABLE names kept local
    # the [kiosk] keys the bundle may set, as this file has them (raw; kiosk/config.py checks them,
    # hallcore.bundle.kiosk_settings puts the bundle's on top)
    kiosk_values: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @property
    def journal_path(self) -> Path:
        """kiosk.journal.Journal: the open evaluation, for crash-resume."""
        return self.storage / JOURNAL_FILE

    @property
    def bundle_path(self) -> Path:
        """The center's last good bundle: written by hall-agent, read by the kiosk."""
        return self.storage / BUNDLE_FILE


def check_tables(root: Table) -> None:
    """Reject top-level keys that are not one of KNOWN_TABLES (or not tables at all)."""
    for name, value in root.data.items():
        if name not in KNOWN_TABLES:
            raise root.error(name, "is not a known table",
                             f"use only [{'], ['.join(KNOWN_TABLES)}] (see config/example.toml)")
        if not isinstance(value, dict):
            raise root.error(name, f"must be a table, got {value!r}", f"write it as a [{name}] section")


def is_usable_id(v: object) -> bool:
    """A device, hall or window id as [device] allows it."""
    return isinstance(v, str) and _ID.fullmatch(v) is not None


def _id(t: Table, name: str) -> str:
    v = t.str(name)
    if not is_usable_id(v):
        raise t.error(name, f"{v!r} is not a usable id",
                      "use 1-64 letters, digits, '.', '_' or '-' (it appears in MQTT topics and URLs)")
    return v


def clock_time(t: Table, name: str, default: time) -> time:
    """A time of day written "HH:MM" (24-hour)."""
    v = t.str(name, f"{default:%H:%M}")
    m = _CLOCK.fullmatch(v)
    if not m:
        raise t.error(name, f"{v!r} is not a time of day", 'write it as "HH:MM", e.g. "17:30"')
    return time(int(m[1]), int(m[2]))


def tablet_config(root: Table, config_dir: Path) -> TabletConfig:
    """Read [device], [office] and [storage] of an already loaded file."""
    config_dir = Path(config_dir)
    dev = root.table("device")
    device_id, hall_id, window_id = _id(dev, "id"), _id(dev, "hall_id"), _id(dev, "window_id")
    region = dev.str("region_code")
    if not is_region_code(region):
        raise dev.error("region_code", f"{region!r} is not a 6-digit administrative division code",
                        'write the county\'s code in quotes, e.g. "430922" for Taojiang')
    dev.reject_unknown()

    office = root.table("office")
    closing = clock_time(office, "closing", DEFAULT_CLOSING)
    holiday_file = office.path("holiday_file", None, base=config_dir, must_exist=True)
    zone = office.zone("timezone")
    office.reject_unknown()
    try:
        calendar = WorkCalendar(holiday_file)
    except ConfigError as e:
        raise office.error("holiday_file", f"cannot be used: {e}", "fix the holiday file or remove the key") from None

    st = root.table("storage")
    folder = st.path("folder", base=config_dir)
    # `outbox` is what hall-agent reads; it defaults to a folder under `folder`.
    outbox = st.path("outbox", str(folder / OUTBOX_DIR), base=config_dir)
    for name, p in (("folder", folder), ("outbox", outbox)):
        if p.exists() and not p.is_dir():
            raise st.error(name, f"{p} exists and is not a folder", "point it at a folder")
    st.reject_unknown()

    b = root.table("bundle")
    pinned = check_pinned(b.str_list("pinned", []), b)
    b.reject_unknown()
    kiosk = root.data.get("kiosk")
    return TabletConfig(device_id=device_id, region_code=region, hall_id=hall_id, window_id=window_id,
                        closing=closing, holiday_file=holiday_file, timezone=zone, storage=folder, outbox_folder=outbox,
                        config_dir=config_dir, calendar=calendar, pinned=pinned,
                        kiosk_values=local_values(kiosk if isinstance(kiosk, dict) else None))


def load_tablet_file(path: str | Path) -> tuple[Table, TabletConfig]:
    """Load the file, check its tables, read the shared ones; the caller reads its own from the Table."""
    path = Path(path)
    root = Table(load_toml(path), "", str(path))
    check_tables(root)
    return root, tablet_config(root, path.resolve().parent)
