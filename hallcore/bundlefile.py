"""`<storage>/bundle.json`, the center's last good bundle on the tablet
(DESIGN.md §4.9): hall-agent writes it (agent/bundle.py), the kiosk reads
it when idle. Both accept a bundle by the same checks, here: hallcore.bundle
for this tablet's window, its own [kiosk] values and its pins."""
from __future__ import annotations

from hallcore import bundle as rules
from hallcore.bundle import Bundle, BundleError, parse_bundle
from hallcore.fsutil import read_regular_file
from hallcore.tablet import TabletConfig


def accept(tablet: TabletConfig, raw: bytes) -> Bundle:
    """The bundle in `raw` if this tablet can apply it; raises BundleError."""
    b = parse_bundle(raw, hall_id=tablet.hall_id, window_id=tablet.window_id)
    rules.kiosk_settings(tablet.kiosk_values, b, tablet.pinned)
    return b


def read_stored(tablet: TabletConfig) -> Bundle | None:
    """The stored bundle, checked as on receipt; None when there is none.
    Raises BundleError when the file is there but cannot be used."""
    try:
        raw = read_regular_file(tablet.bundle_path, rules.MAX_BUNDLE_BYTES)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise BundleError(f"cannot read {tablet.bundle_path}: {e}") from None
    return accept(tablet, raw)


__all__ = ["accept", "read_stored"]
