"""Alerts about cases, through an outbox table: written in the same
transaction as the event that caused them, then delivered to each configured
channel (HTTP webhook with JSON, MQTT topic, dashboard). A failed delivery is
kept and retried with a doubling delay; nothing is dropped."""
from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any, Callable

import requests
from sqlalchemy import insert, select, update

from hallcore.hallclock import to_db

from .cases import retry_delay
from .config import AlertConfig
from .db import alerts

log = logging.getLogger("center.alerts")

KIND_TITLES = {
    "new_case": "新差评工单",
    "due_today": "差评工单今日到期",
    "escalate": "差评工单已超期，交办督办",
}


def channels(cfg: AlertConfig) -> list[str]:
    out = ["dashboard"]
    if cfg.webhook_url:
        out.append("webhook")
    if cfg.mqtt_host:
        out.append("mqtt")
    return out


def enqueue(conn, cfg: AlertConfig, kind: str, case_id: int, payload: dict[str, Any], now) -> None:
    """Queue one alert per channel; the dashboard one counts as delivered at once
    (the dashboard reads this table)."""
    body = {"kind": kind, "title": KIND_TITLES.get(kind, kind), "case_id": case_id, **payload}
    conn.execute(insert(alerts), [dict(
        case_id=case_id, kind=kind, channel=ch, payload=body, created_at=to_db(now),
        attempts=0, next_attempt_at=to_db(now),
        delivered_at=to_db(now) if ch == "dashboard" else None) for ch in channels(cfg)])


def send_webhook(cfg: AlertConfig, payload: dict[str, Any]) -> None:
    r = requests.post(cfg.webhook_url, json=payload, timeout=5)
    if not 200 <= r.status_code < 300:
        raise RuntimeError(f"webhook answered HTTP {r.status_code}")


def send_mqtt(cfg: AlertConfig, payload: dict[str, Any]) -> None:
    import paho.mqtt.publish as publish
    publish.single(cfg.mqtt_topic, json.dumps(payload, ensure_ascii=False), qos=1,
                   hostname=cfg.mqtt_host, port=cfg.mqtt_port, client_id="",
                   keepalive=10)


SENDERS: dict[str, Callable[[AlertConfig, dict[str, Any]], None]] = {
    "webhook": send_webhook,
    "mqtt": send_mqtt,
}


def deliver_pending(center, limit: int = 100) -> dict[str, int]:
    """Try every alert whose time has come; returns counts of sent and failed."""
    now = center.clock()
    cfg = center.cfg.alerts
    with center.engine.connect() as conn:
        due = conn.execute(
            select(alerts.c.id, alerts.c.channel, alerts.c.payload, alerts.c.attempts)
            .where(alerts.c.delivered_at.is_(None), alerts.c.next_attempt_at <= to_db(now))
            .order_by(alerts.c.id).limit(limit)).all()
        conn.rollback()
    sent = failed = 0
    for a in due:
        sender = center.senders.get(a.channel)
        try:
            if sender is None:
                raise RuntimeError(f"channel {a.channel!r} is not configured any more")
            sender(cfg, a.payload)
        except Exception as e:  # noqa: BLE001 - any failure means: keep it and retry later
            failed += 1
            attempts = a.attempts + 1
            wait = retry_delay(attempts, cfg.retry_first_s, cfg.retry_max_s)
            log.warning("alert %s via %s failed (try %d, next in %ds): %s",
                        a.id, a.channel, attempts, wait, e)
            values = dict(attempts=attempts, last_error=str(e)[:500],
                          next_attempt_at=to_db(now + timedelta(seconds=wait)))
        else:
            sent += 1
            values = dict(attempts=a.attempts + 1, delivered_at=to_db(now), last_error=None)
        with center.engine.begin() as conn:
            conn.execute(update(alerts).where(alerts.c.id == a.id).values(**values))
    return {"sent": sent, "failed": failed}
