"""Publishing bad reviews and deadline alerts to an MQTT alert topic.

Optional ([agent.mqtt]); lets a center dashboard react to a bad review the
moment it is cast. A broker that is down never blocks the agent: paho
connects in the background and queues QoS 1 messages. A bad review counts as
published only once the broker acknowledged it, so one still queued when the
agent dies is published again after restart (at least once; the id lets a
subscriber drop repeats).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Mapping

import paho.mqtt.client as mqtt

from agent.config import MqttAlerts
from hallcore.mqtt import new_client
from hallcore.record import mask_phone

log = logging.getLogger(__name__)

_ALERT_FIELDS = ("id", "device_id", "seq", "hall_id", "window_id", "staff_id", "staff_name", "ticket",
                 "case_no", "matter_code", "matter_name", "rating", "rating_label", "reasons", "comment",
                 "voted_at", "due_at", "calendar_verified")


def bad_review_alert(record: Mapping[str, Any]) -> dict[str, Any]:
    """The message for one bad review: no full phone number leaves the tablet this way."""
    msg = {"kind": "bad_review"}
    msg.update({k: record.get(k) for k in _ALERT_FIELDS})
    msg["contact_phone"] = mask_phone(record.get("contact_phone"))
    return msg


class AlertPublisher:
    def __init__(self, cfg: MqttAlerts):
        self.cfg = cfg
        b = cfg.broker
        c = new_client(b)
        c.max_queued_messages_set(10_000)
        self.client = c
        self._inflight: dict[str, mqtt.MQTTMessageInfo] = {}
        c.connect_async(b.host, b.port, keepalive=b.keepalive)
        c.loop_start()   # paho's thread connects, and reconnects forever

    def publish(self, message: Mapping[str, Any], key: str | None = None) -> None:
        """Hand `message` to paho; `key` is reported by `delivered()` once the broker has it."""
        info = self.client.publish(self.cfg.topic, json.dumps(message, ensure_ascii=False),
                                   qos=self.cfg.qos)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            log.warning("mqtt alert not queued: %s", mqtt.error_string(info.rc),
                        extra={"alert_key": key})
            return
        if key is not None:
            self._inflight[key] = info

    def delivered(self) -> list[str]:
        """Keys whose message the broker acknowledged since the last call."""
        done = [k for k, info in self._inflight.items() if info.is_published() or self.cfg.qos == 0]
        for k in done:
            del self._inflight[k]
        return done

    def pending_keys(self) -> set[str]:
        return set(self._inflight)

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()
