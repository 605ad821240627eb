"""The [center] and [agent] tables of the tablet's TOML file (DESIGN.md section 6).

    [center]        where records go: url, ca_file, token_file, timeouts (per
                    connect and read, and in total per request)
    [agent]         batching, heartbeat, backoff, alerts, status file, logs
    [agent.mqtt]    optional: broker (same keys as [queue.mqtt]), topic and qos
                    for real-time bad-review and deadline alerts

Every value is checked at start-up; a bad one raises ConfigError naming the
key and the fix, so `hall-agent` exits instead of running half configured.
Relative paths are relative to the config file's folder.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import urlsplit

from agent.batch import MAX_BATCH_RECORDS
from hallcore.config import Table
from hallcore.tablet import TabletConfig, load_tablet_file
from hallcore.mqtt import MqttSettings

_LOOPBACK_NAMES = ("localhost",)
STATUS_FILE = "agent-status.json"   # in [storage] folder unless [agent] status_file says otherwise


@dataclass(frozen=True)
class CenterConfig:
    url: str                      # e.g. https://center.example.gov.cn, no trailing slash
    token_file: Path              # the device token the center issued at enrollment
    ca_file: Path | None = None   # None: the system's CA bundle
    connect_timeout: float = 5.0
    read_timeout: float = 15.0    # per socket read, so a trickling answer never trips it ...
    total_timeout: float = 30.0   # ... this bounds the whole request (agent/watchdog.py)


@dataclass(frozen=True)
class MqttAlerts:
    """Broker connection (the same keys as the kiosk's [queue.mqtt]) plus where to publish."""
    broker: MqttSettings
    topic: str
    qos: int = 1


@dataclass(frozen=True)
class AgentSettings:
    status_file: Path
    batch_size: int = 200
    heartbeat_interval: float = 60.0
    backoff_base: float = 1.0
    backoff_cap: float = 120.0
    poll_interval: float = 0.2          # how often new puts are looked for
    alert_before: timedelta = timedelta(hours=4)
    alert_check_interval: float = 30.0
    log_file: Path | None = None
    log_max_bytes: int = 5 * 1024 * 1024
    log_backups: int = 5
    log_level: str = "INFO"
    mqtt: MqttAlerts | None = None


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_center(t: Table, base: Path) -> CenterConfig:
    url = t.str("url").rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise t.error("url", f"{url!r} is not an http(s) URL", 'write it as "https://center.example.gov.cn"')
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise t.error("url", f"{url!r} would send records unencrypted",
                      "use https:// (plain http is only allowed to 127.0.0.1/localhost for tests and the demo)")
    cfg = CenterConfig(
        url=url,
        token_file=t.path("token_file", base=base, must_exist=True),
        ca_file=t.path("ca_file", None, base=base, must_exist=True),
        connect_timeout=t.float("connect_timeout", 5.0, min=0.1, max=120),
        read_timeout=t.float("read_timeout", 15.0, min=0.1, max=600),
        # at most 60 s: with the 30 s status refresh the status file stays well within
        # agent.status.STALE_AFTER_S during the longest request
        total_timeout=t.float("total_timeout", 30.0, min=0.5, max=60),
    )
    t.reject_unknown()
    return cfg


def alert_topic(hall_id: str) -> str:
    return f"hall/{hall_id}/alerts"


def read_mqtt(m: Table, base: Path, *, hall_id: str, window_id: str) -> MqttAlerts:
    topic = m.str("topic", alert_topic(hall_id))
    if any(c in topic for c in "+#"):
        raise m.error("topic", f"{topic!r} has a wildcard", "publish topics cannot contain + or #")
    qos = m.int("qos", 1, choices=(0, 1, 2))
    broker = MqttSettings.from_table(m, hall_id=hall_id, window_id=window_id, config_dir=base, role="agent")
    return MqttAlerts(broker, topic, qos)


def read_agent(t: Table, base: Path, *, default_status_file: Path, hall_id: str,
               window_id: str) -> AgentSettings:
    alert_before_h = t.float("alert_before_hours", 4.0, min=0, max=24 * 7)
    base_s = t.float("backoff_base", 1.0, min=0.05, max=600)
    cap_s = t.float("backoff_cap", 120.0, min=0.05, max=3600)
    if cap_s < base_s:
        raise t.error("backoff_cap", f"{cap_s} is below backoff_base ({base_s})",
                      "make backoff_cap at least backoff_base")
    mqtt = None
    if t.has("mqtt"):
        mqtt = read_mqtt(t.table("mqtt"), base, hall_id=hall_id, window_id=window_id)
    cfg = AgentSettings(
        status_file=t.path("status_file", str(default_status_file), base=base),
        batch_size=t.int("batch_size", 200, min=1, max=MAX_BATCH_RECORDS),
        heartbeat_interval=t.float("heartbeat_interval", 60.0, min=1, max=3600),
        backoff_base=base_s,
        backoff_cap=cap_s,
        poll_interval=t.float("poll_interval", 0.2, min=0.01, max=5),
        alert_before=timedelta(hours=alert_before_h),
        alert_check_interval=t.float("alert_check_interval", 30.0, min=0.1, max=3600),
        log_file=t.path("log_file", None, base=base),
        log_max_bytes=t.int("log_max_bytes", 5 * 1024 * 1024, min=10_000, max=1 << 30),
        log_backups=t.int("log_backups", 5, min=1, max=100),
        log_level=t.str("log_level", "INFO", choices=("DEBUG", "INFO", "WARNING", "ERROR")),
        mqtt=mqtt,
    )
    t.reject_unknown()
    return cfg


@dataclass(frozen=True)
class AgentConfig:
    device_id: str
    outbox_folder: Path
    center: CenterConfig
    agent: AgentSettings
    source: Path
    tablet: TabletConfig


def load_config(path: str | Path) -> AgentConfig:
    """Everything `hall-agent` needs from the tablet's TOML file; raises ConfigError."""
    path = Path(path)
    root, tablet = load_tablet_file(path)
    base = tablet.config_dir
    if not root.has("center"):
        raise root.error("center", "is missing", "add a [center] table with url and token_file")
    center = read_center(root.table("center"), base)
    agent = read_agent(root.table("agent"), base, default_status_file=tablet.storage / STATUS_FILE,
                       hall_id=tablet.hall_id, window_id=tablet.window_id)
    return AgentConfig(tablet.device_id, tablet.outbox_folder, center, agent, path, tablet)
