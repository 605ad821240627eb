"""MQTT ticket source (DESIGN §4): subscribes to the window's queue topic at
QoS 1 with a persistent session, publishes the back-channel at QoS 1 and a
retained online/offline status with a last will. paho-mqtt's own thread
reconnects forever with capped backoff; this module only configures it and
hands each message to the intake.
"""
from __future__ import annotations

import logging
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hallcore.mqtt import MqttSettings, new_client
from kiosk.events import TicketEvent, done_to_json, parse_mqtt_payload
from kiosk.sources.intake import Intake, SourceStatus

log = logging.getLogger("kiosk.sources.mqtt")


def topics(hall_id: str, window_id: str) -> dict[str, str]:
    base = f"hall/{hall_id}/window/{window_id}"
    return {"queue": f"{base}/queue", "evaluation": f"{base}/evaluation", "status": f"{base}/kiosk/status"}


class MqttSource:
    def __init__(self, settings: MqttSettings, *, hall_id: str, window_id: str, intake: Intake | None = None):
        self.settings = settings
        self.window_id = window_id
        self.topics = topics(hall_id, window_id)
        self.intake = intake or Intake(f"mqtt {settings.host}:{settings.port}")
        self.client: mqtt.Client | None = None
        self._refused = False     # keep "broker refused: why" visible across the disconnect that follows

    def start(self, on_event: Callable[[TicketEvent], None]) -> None:
        s = self.settings
        self.intake.on_event = on_event
        v5 = s.protocol == "5"
        c = new_client(s, persistent_session=True)
        c.will_set(self.topics["status"], b"offline", qos=1, retain=True)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c
        self.intake.set_state(False, f"connecting to {s.host}:{s.port}", trouble=False)
        if v5:
            props = Properties(PacketTypes.CONNECT)
            props.SessionExpiryInterval = s.session_expiry
            c.connect_async(s.host, s.port, s.keepalive, clean_start=False, properties=props)
        else:
            c.connect_async(s.host, s.port, s.keepalive)
        c.loop_start()   # its thread connects, and reconnects forever with capped backoff

    def stop(self) -> None:
        c, self.client = self.client, None
        if c is None:
            return
        if c.is_connected():
            # a graceful disconnect does not fire the will, so say offline ourselves
            info = c.publish(self.topics["status"], b"offline", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=2)
            except (RuntimeError, ValueError):
                pass
        c.disconnect()
        c.loop_stop()
        self.intake.set_state(False, "stopped", trouble=False)

    def send_done(self, ticket: str, rated: int, unrated: int) -> None:
        """Back-channel at QoS 1; paho queues it while disconnected. Never raises."""
        c = self.client
        try:
            if c is None:
                raise RuntimeError("source not started")
            info = c.publish(self.topics["evaluation"], done_to_json(ticket, rated, unrated), qos=1)
            if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):   # NO_CONN: queued
                raise RuntimeError(mqtt.error_string(info.rc))
        except Exception as e:
            self.intake.reject("back_channel_failed", f"done for ticket {ticket} not sent ({e})")

    @property
    def status(self) -> SourceStatus:
        return self.intake.status()

    # paho callbacks, on paho's thread

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        self._refused = reason_code.is_failure
        if reason_code.is_failure:
            self.intake.set_state(False, f"broker refused: {reason_code}, retrying")
            return
        client.subscribe(self.topics["queue"], qos=1)
        client.publish(self.topics["status"], b"online", qos=1, retain=True)
        self.intake.set_state(True, f"connected to {self.settings.host}:{self.settings.port}: "
                                    f"session present {flags.session_present}")

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.client is not None and not self._refused:
            self.intake.set_state(False, f"disconnected: {reason_code}, reconnecting")

    def _on_message(self, client, userdata, msg) -> None:
        self.intake.handle(lambda: parse_mqtt_payload(msg.payload, window=self.window_id),
                           f"message on {msg.topic}")
