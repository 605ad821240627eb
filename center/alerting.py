"""Alerts about cases, through an outbox table: written in the same
transaction as the event that caused them, then delivered to each configured
channel (HTTP webhook with JSON, MQTT topic, dashboard). A failed delivery is
kept and retried with a doubling delay; nothing is dropped.

Several center instances may share the database: each round claims its
alerts with center/leasing.py, so one instance sends each alert, and records
the outcome only for the claim it still holds. Every alert carries its id
(`alert_id` in the JSON, and the webhook's `Idempotency-Key` header): the
one repeat that cannot be ruled out (an instance killed after the receiver
accepted, before the outcome was written; or a send that outlasted its
lease) reaches the receiver with the same id (DESIGN.md §10.4)."""
from __future__ import annotations

import json
import logging
import os
import socket
import time
from datetime import timedelta
from typing import Any, Callable

import requests

from hallcore.hallclock import to_db

from . import leasing
from .cases import retry_delay
from .config import AlertConfig
from .db import alerts
from .sqlutil import insert_rows

log = logging.getLogger("center.alerts")
mqtt_log = logging.getLogger("center.alerts.mqtt")

KIND_TITLES = {
    "new_case": "新差评工单",
    "due_today": "差评工单今日到期",
    "escalate": "差评工单已超期，交办督办",
    "second_bad": "整改后二次评价仍不满意",
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
    enqueue_many(conn, cfg, kind, [(case_id, payload)], now)


def enqueue_many(conn, cfg: AlertConfig, kind: str, items: list[tuple[int, dict[str, Any]]], now) -> None:
    """enqueue for several (case id, payload) of one kind, in one INSERT."""
    rows = [dict(case_id=case_id, kind=kind, channel=ch, created_at=to_db(now), attempts=0,
                 next_attempt_at=to_db(now), delivered_at=to_db(now) if ch == "dashboard" else None,
                 payload={"kind": kind, "title": KIND_TITLES.get(kind, kind), "case_id": case_id, **payload})
            for case_id, payload in items for ch in channels(cfg)]
    insert_rows(conn, alerts, rows)


WEBHOOK_TIMEOUT_S = 5.0     # to connect, and then between bytes of the answer


def instance() -> str:
    """This center process, as the webhook's X-Hall-Center-Instance header
    names it (host:pid): which instance sent a delivery, in the receiver's log."""
    return f"{socket.gethostname()}:{os.getpid()}"


def webhook_headers(payload: dict[str, Any]) -> dict[str, str]:
    """The Idempotency-Key (the alert's id, a quoted string as the IETF
    httpapi draft defines the header) and the sending instance."""
    return {"Idempotency-Key": f'"{payload["alert_id"]}"', "X-Hall-Center-Instance": instance()}


def send_webhook(cfg: AlertConfig, payload: dict[str, Any]) -> None:
    r = requests.post(cfg.webhook_url, json=payload, headers=webhook_headers(payload),
                      timeout=WEBHOOK_TIMEOUT_S)
    if not 200 <= r.status_code < 300:
        raise RuntimeError(f"webhook answered HTTP {r.status_code}")


MQTT_TIMEOUT_S = 10.0   # to connect, and then for the broker's acknowledgement


def send_mqtt(cfg: AlertConfig, payload: dict[str, Any]) -> None:
    """Publish at QoS 1 on a connection of its own, driven here without a
    network thread; returns once the broker acknowledged, raises otherwise.
    Not paho's publish.single: after the PUBACK and its DISCONNECT, its
    loop_forever polls the closed socket once more, and paho logs that as
    ERROR "Client is not connected" for every alert it delivered."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="")
    client.enable_logger(mqtt_log)          # paho's own warnings and errors, under our name
    answer: list = []
    client.on_connect = lambda c, userdata, flags, reason_code, properties: answer.append(reason_code)
    client.connect(cfg.mqtt_host, cfg.mqtt_port, keepalive=10)   # OSError: refused, unreachable
    try:
        _loop_until(client, lambda: answer, "accept the connection")
        if answer[0].is_failure:
            raise RuntimeError(f"broker {cfg.mqtt_host}:{cfg.mqtt_port} refused the connection: {answer[0]}")
        info = client.publish(cfg.mqtt_topic, json.dumps(payload, ensure_ascii=False), qos=1)
        _loop_until(client, info.is_published, "acknowledge the alert")
    finally:
        client.disconnect()      # without a loop thread, sent and closed right here


def _loop_until(client, done: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + MQTT_TIMEOUT_S
    while not done():
        if time.monotonic() > deadline:
            raise RuntimeError(f"the broker did not {what} within {MQTT_TIMEOUT_S:g} s")
        rc = client.loop(0.1)
        if rc != 0:
            raise RuntimeError(f"connection to the broker lost: {rc}")


SENDERS: dict[str, Callable[[AlertConfig, dict[str, Any]], None]] = {
    "webhook": send_webhook,
    "mqtt": send_mqtt,
}


def deliver_pending(center, limit: int = 100) -> dict[str, int]:
    """Claim the alerts whose time has come and try each; returns counts of
    sent and failed. A claimed alert not tried before the claim's sendable
    time ran out is given back for the next round (of any instance)."""
    cfg = center.cfg.alerts
    claim = leasing.claim_due(center.engine, alerts, pending=alerts.c.delivered_at.is_(None),
                              now=to_db(center.clock()), lease_s=cfg.lease_s, limit=limit)
    sent = failed = 0
    for i, a in enumerate(claim):
        if not claim.sendable():
            back = leasing.release(center.engine, alerts, claim, [r.id for r in claim[i:]],
                                   now=to_db(center.clock()))
            log.info("%d alerts given back unsent: this round reached half its %ss lease",
                     back, cfg.lease_s)
            break
        sender = center.senders.get(a.channel)
        try:
            if sender is None:
                raise RuntimeError(f"channel {a.channel!r} is not configured any more")
            sender(cfg, {**a.payload, "alert_id": a.id})
        except Exception as e:  # noqa: BLE001 - any failure means: keep it and retry later
            failed += 1
            attempts = a.attempts + 1
            wait = retry_delay(attempts, cfg.retry_first_s, cfg.retry_max_s)
            log.warning("alert %s via %s failed (try %d, next in %ds): %s",
                        a.id, a.channel, attempts, wait, e)
            values = dict(attempts=attempts, last_error=str(e)[:500],
                          next_attempt_at=to_db(center.clock() + timedelta(seconds=wait)))
        else:
            sent += 1
            values = dict(attempts=a.attempts + 1, delivered_at=to_db(center.clock()), last_error=None)
        if not leasing.finish(center.engine, alerts, claim, a.id, **values):
            log.warning("alert %s via %s: its %ss lease ended during the send and another instance "
                        "has claimed it; that one records the outcome (the receiver may see alert_id "
                        "%s twice)", a.id, a.channel, cfg.lease_s, a.id)
    return {"sent": sent, "failed": failed}
