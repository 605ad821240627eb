"""The center's own TOML config (config/center.example.toml documents every key).

Read once at start; a bad value names its key and the fix (hallcore.config),
and `hall-center` exits non-zero instead of starting half configured.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from hallcore.config import ConfigError, Table, load_toml
from hallcore.hallclock import DEFAULT_TZ
from hallcore.kiosksettings import read_settings
from hallcore.tablet import is_usable_id
from hallcore.record import is_region_code
from hallcore.timebounds import DEFAULT_BOUNDS, EARLIEST, TimeBounds

from .anomalies import AnomalyConfig
from .sampling import SamplingError, as_share
from .upstream import UpstreamSettings


@dataclass(frozen=True)
class AlertConfig:
    morning: time = time(8, 30)          # the "due today" reminder goes out from here
    webhook_url: str | None = None
    mqtt_host: str | None = None
    mqtt_port: int = 1883
    mqtt_topic: str = "hall/center/alerts"
    retry_first_s: int = 30              # an undeliverable alert is retried, doubling, up to retry_max_s
    retry_max_s: int = 3600
    tick_s: int = 30                     # how often deadlines are checked and the alert outbox is drained
    # an instance claims alerts for this long (center/leasing.py); one killed
    # mid-send leaves them to another instance once it ends
    lease_s: int = 120


@dataclass(frozen=True)
class SupervisionConfig:
    """监督查评 (center/sampling.py): the draw's default share and the flag's thresholds."""
    share: str = "0.05"                  # of each window's evaluated records; read exactly (sampling.as_share)
    min_per_window: int = 1              # a window with records gets at least this many
    min_checked: int = 5                 # a window is flagged only after this many good ratings were checked …
    min_confirmed: float = 0.8           # … and fewer than this share of them were confirmed on the phone


@dataclass(frozen=True)
class PublicConfig:
    """The public page /public (面向社会公开, center/web/public.py)."""
    staff_names: bool = False            # publish staff members' names (by window); never their ids
    max_age_s: int = 300                 # Cache-Control max-age, and how long the center reuses a rendered page


@dataclass(frozen=True)
class BundleConfig:
    """What the center's bundle sends the tablets (center/bundle.py, DESIGN.md §4.9):
    kiosk settings for every tablet, one hall's or one window's (the narrower
    wins), and where the staff photos are."""
    staff_photos: Path | None = None     # a folder of <staff id>.jpg / .png
    kiosk: dict[str, Any] = field(default_factory=dict)
    halls: dict[str, dict[str, Any]] = field(default_factory=dict)      # hall_id -> settings
    windows: dict[str, dict[str, Any]] = field(default_factory=dict)    # window_id -> settings

    def kiosk_for(self, hall_id: str, window_id: str) -> dict[str, Any]:
        return {**self.kiosk, **self.halls.get(hall_id, {}), **self.windows.get(window_id, {})}


@dataclass(frozen=True)
class CenterConfig:
    database: str                        # SQLAlchemy URL (sqlite:///… or postgresql+psycopg://…)
    host: str = "127.0.0.1"
    port: int = 8080
    session_secret_file: Path | None = None
    secure_cookies: bool = False         # true when the dashboard is served over HTTPS
    session_idle_s: int = 3600           # a dashboard session unused this long ends
    session_max_s: int = 12 * 3600       # every dashboard session ends this long after login
    max_batch: int = 500
    ingest_at_once: int = 2              # batches one instance writes at a time (the rest wait their turn)
    max_body_bytes: int = 2 * 1024 * 1024
    clock_skew_warn_s: int = 120
    region_code: str | None = None       # the county's 行政区划代码: add-device's default
    record_bounds: TimeBounds = DEFAULT_BOUNDS   # the times a record may carry
    closing: time = time(17, 30)
    holiday_file: Path | None = None
    timezone: ZoneInfo = DEFAULT_TZ      # the hall's: pages, exports, the statistics day (hallcore.hallclock)
    departments: dict[str, str] = field(default_factory=dict)   # window_id -> 部门
    qr_secrets_file: Path | None = None  # [qr] secrets_file: per-hall QR check-code secrets (center/qrcheck.py)
    alerts: AlertConfig = field(default_factory=AlertConfig)
    supervision: SupervisionConfig = field(default_factory=SupervisionConfig)
    public: PublicConfig = field(default_factory=PublicConfig)
    upstream: UpstreamSettings | None = None     # [upstream]: the push to the provincial 好差评 system (off: None)
    anomalies: AnomalyConfig = field(default_factory=AnomalyConfig)   # [anomalies]: the flags' thresholds
    flag_scan_s: int = 3600              # [anomalies] scan_every_s: the worker's scan interval (0: off)
    bundle: BundleConfig = field(default_factory=BundleConfig)

    def department(self, window_id: str) -> str:
        return self.departments.get(window_id, "未分配部门")


def database_url(value: str, base: Path) -> str:
    """A file path means embedded SQLite; anything with :// is a SQLAlchemy URL."""
    if "://" in value:
        if value.startswith("postgresql://"):
            return "postgresql+psycopg://" + value[len("postgresql://"):]
        return value
    p = Path(value)
    if not p.is_absolute():
        p = base / p
    return f"sqlite:///{p}"


def _clock(t: Table, name: str, default: time) -> time:
    raw = t.str(name, default.strftime("%H:%M"))
    try:
        return time.fromisoformat(raw)
    except ValueError:
        raise t.error(name, f"{raw!r} is not a time of day", 'write it as "HH:MM", e.g. "17:30"') from None


def _region(t: Table) -> str | None:
    code = t.str("region_code", "", empty=True) or None
    if code is not None and not is_region_code(code):
        raise t.error("region_code", f"{code!r} is not a 6-digit 行政区划代码", 'e.g. "430922"')
    return code


def _record_bounds(t: Table, zone) -> TimeBounds:
    """records_not_before is a hall day: its midnight in the hall's zone."""
    raw = t._get("records_not_before", EARLIEST.date().isoformat())
    try:
        day = raw if isinstance(raw, date) and not isinstance(raw, datetime) else date.fromisoformat(raw)
    except (TypeError, ValueError):
        raise t.error("records_not_before", f"{raw!r} is not a date",
                      'write it as "YYYY-MM-DD", e.g. "2019-12-01"') from None
    hours = t.int("records_max_ahead_h", 24, min=1, max=24 * 30)
    return TimeBounds(earliest=datetime.combine(day, time(), zone), ahead=timedelta(hours=hours))


def _supervision(t: Table) -> SupervisionConfig:
    share = t.float("share", 0.05)
    try:
        as_share(str(share))
    except SamplingError:
        raise t.error("share", f"{share} is not a share of the records",
                      "more than 0 and at most 1, e.g. 0.05 for 5%") from None
    return SupervisionConfig(
        share=str(share),
        min_per_window=t.int("min_per_window", 1, min=0, max=10000),
        min_checked=t.int("min_checked", 5, min=1, max=100000),
        min_confirmed=t.float("min_confirmed", 0.8, min=0.0, max=1.0),
    )


def _settings_layer(t: Table) -> dict[str, Any]:
    """One [bundle.…] settings table: the tablet's [kiosk] rules, only its keys."""
    read_settings(t)
    t.reject_unknown()
    return dict(t.data)


def _layers(b: Table, name: str) -> dict[str, dict[str, Any]]:
    """[bundle.hall.<id>] / [bundle.window."<id>"]: a table of settings tables."""
    parent = b.table(name)
    out = {}
    for key in parent.data:
        if not is_usable_id(key):
            raise parent.error(key, f"{key!r} is not a {name} id",
                               "use the id the tablets' [device] has (letters, digits, '.', '_', '-')")
        out[key] = _settings_layer(parent.table(key))
    return out


def _bundle(b: Table, base: Path) -> BundleConfig:
    cfg = BundleConfig(staff_photos=b.path("staff_photos", None, base=base),
                       kiosk=_settings_layer(b.table("kiosk")), halls=_layers(b, "hall"),
                       windows=_layers(b, "window"))
    if cfg.staff_photos is not None and not cfg.staff_photos.is_dir():
        raise b.error("staff_photos", f"{cfg.staff_photos} is not a folder",
                      "point it at the folder of <staff id>.jpg / .png photos")
    # the narrower tables go over the wider ones: each combination must be a valid [kiosk] too
    for hall in [None, *cfg.halls]:
        for window in [None, *cfg.windows]:
            where = " + ".join(x for x in ("bundle.kiosk", hall and f"bundle.hall.{hall}",
                                           window and f"bundle.window.{window}") if x)
            read_settings(Table(cfg.kiosk_for(hall or "", window or ""), where, b.source))   # "": no such id
    b.reject_unknown()
    return cfg


def load_config(path: str | Path) -> CenterConfig:
    path = Path(path)
    data = load_toml(path)
    base = path.resolve().parent
    root = Table(data, source=str(path))
    c = root.table("center")
    a = root.table("alerts")
    sv = root.table("supervision")
    d = root.table("departments")
    q = root.table("qr")
    p = root.table("public")
    up = root.table("upstream")
    an = root.table("anomalies")
    flag_scan_s = an.int("scan_every_s", 3600, min=0, max=7 * 86400)   # read before from_table refuses unknown keys
    for k, v in d.data.items():
        if not isinstance(v, str) or not v.strip():
            raise d.error(k, f"expected a department name, got {v!r}", '"03" = "不动产登记"')
        d._read.add(k)
    url = a.str("webhook_url", "", empty=True) or None
    if url and not url.startswith(("http://", "https://")):
        raise a.error("webhook_url", f"{url!r} is not an http(s) URL", 'e.g. "https://ops.example/hook"')
    alerts = AlertConfig(
        morning=_clock(a, "morning", time(8, 30)),
        webhook_url=url,
        mqtt_host=a.str("mqtt_host", "", empty=True) or None,
        mqtt_port=a.int("mqtt_port", 1883, min=1, max=65535),
        mqtt_topic=a.str("mqtt_topic", "hall/center/alerts"),
        retry_first_s=a.int("retry_first_s", 30, min=1, max=86400),
        retry_max_s=a.int("retry_max_s", 3600, min=1, max=7 * 86400),
        tick_s=a.int("tick_s", 30, min=1, max=3600),
        lease_s=a.int("lease_s", 120, min=2, max=3600),
    )
    zone = c.zone("timezone")
    cfg = CenterConfig(
        database=database_url(c.str("database"), base),
        host=c.str("host", "127.0.0.1"),
        port=c.int("port", 8080, min=1, max=65535),
        session_secret_file=c.path("session_secret_file", "center-session.key", base=base),
        secure_cookies=c.bool("secure_cookies", False),
        session_idle_s=c.int("session_idle_s", 3600, min=60, max=7 * 86400),
        session_max_s=c.int("session_max_s", 12 * 3600, min=60, max=30 * 86400),
        max_batch=c.int("max_batch", 500, min=1, max=10000),
        ingest_at_once=c.int("ingest_at_once", 2, min=1, max=64),
        max_body_bytes=c.int("max_body_bytes", 2 * 1024 * 1024, min=1024, max=64 * 1024 * 1024),
        clock_skew_warn_s=c.int("clock_skew_warn_s", 120, min=1),
        region_code=_region(c),
        record_bounds=_record_bounds(c, zone),
        closing=_clock(c, "closing", time(17, 30)),
        holiday_file=c.path("holiday_file", None, base=base, must_exist=True),
        timezone=zone,
        departments=dict(d.data),
        qr_secrets_file=q.path("secrets_file", None, base=base),
        alerts=alerts,
        supervision=_supervision(sv),
        public=PublicConfig(staff_names=p.bool("staff_names", False),
                            max_age_s=p.int("max_age_s", 300, min=0, max=86400)),
        upstream=UpstreamSettings.from_table(up, base),
        anomalies=AnomalyConfig.from_table(an),
        flag_scan_s=flag_scan_s,
        bundle=_bundle(root.table("bundle"), base),
    )
    for t in (root, c, a, sv, q, p):
        t.reject_unknown()
    return cfg


__all__ = ["AlertConfig", "BundleConfig", "CenterConfig", "PublicConfig", "SupervisionConfig", "ConfigError", "database_url",
           "load_config"]
