"""Write a tablet TOML file from a dict (tests of hallcore.tablet and kiosk.config)."""
from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import tomli_w

# The smallest valid kiosk tablet file.
MINIMAL: dict[str, Any] = {
    "device": {"id": "tab-03", "region_code": "430922", "hall_id": "taojiang", "window_id": "03"},
    "storage": {"folder": "var"},
    "queue": {"source": "mqtt", "mqtt": {"host": "127.0.0.1"}},
}
DROP = object()   # a value meaning "remove this key"


def write_tablet(folder: Path, changes: dict[str, Any] | None = None, base=MINIMAL) -> Path:
    """config.toml in `folder`: `base` with dotted-key `changes` ("kiosk.scale": 5, "device.id": DROP)."""
    data = copy.deepcopy(base)
    for dotted, value in (changes or {}).items():
        *tables, key = dotted.split(".")
        t = data
        for name in tables:
            t = t.setdefault(name, {})
        if value is DROP:
            t.pop(key, None)
        else:
            t[key] = value
    path = Path(folder) / "config.toml"
    path.write_text(tomli_w.dumps(data), encoding="utf-8")
    return path
