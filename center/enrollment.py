"""Where a tablet is enrolled, and whether a record is from there (DESIGN.md section 4.4).

A device token proves which tablet sent a record, not where that tablet
stands: a record's hall, window and region must equal the device's
enrollment (`hall-center add-device`, `move-device`), so a tablet cannot
file records, or open cases, for another window. Pure.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Mapping


@dataclass(frozen=True)
class Enrollment:
    device_id: str
    hall_id: str
    window_id: str
    region_code: str | None      # None: not enrolled with one (see region_for)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def region_for(enrollment: Enrollment, default_region: str | None) -> str | None:
    """The region a record must carry: the device's own, else the center's
    `[center] region_code`; None when neither is set (the first stored
    record's region then becomes the device's, see ingest)."""
    return enrollment.region_code or default_region


def mismatch(record: Mapping[str, Any], enrollment: Enrollment, region: str | None) -> str | None:
    """Why `record` (already valid by the schema) is not from `enrollment`, or None."""
    wrong = [f"{field} {record[field]!r}" for field, want in
             (("hall_id", enrollment.hall_id), ("window_id", enrollment.window_id), ("region_code", region))
             if want is not None and record[field] != want]
    if not wrong:
        return None
    where = f"hall {enrollment.hall_id!r}, window {enrollment.window_id!r}, region {region or 'any'!r}"
    return (f"not this device's enrollment: {', '.join(wrong)}; device {enrollment.device_id!r} is "
            f"enrolled for {where} (a moved tablet: hall-center move-device)")
