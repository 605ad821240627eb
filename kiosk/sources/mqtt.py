"""MQTT ticket source (DESIGN §4): subscribes to the window's queue topic at
QoS 1 with a persistent session, publishes the back-channel at QoS 1 and a
retained online/offline status with a last will. paho-mqtt's own thread
reconnects forever with capped backoff; this module only configures it and
hands each message to the intake.
"""
from __future__ import annotations

import logging
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties

from hallcore.config import Table
from kiosk.events import TicketEvent, done_to_json, parse_mqtt_payload
from kiosk.sources.intake import Intake, SourceStatus

log = logging.getLogger("kiosk.sources.mqtt")

PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}


def topics(hall_id: str, window_id: str) -> dict[str, str]:
    base = f"hall/{hall_id}/window/{window_id}"
    return {"queue": f"{base}/queue", "evaluation": f"{base}/evaluation", "status": f"{base}/kiosk/status"}


@dataclass(frozen=True)
class MqttSettings:
    host: str
    port: int = 1883
    client_id: str = ""
    keepalive: int = 30
    protocol: str = "5"
    session_expiry: int = 7 * 24 * 3600   # seconds the broker keeps our queue while we are away
    tls: bool = False
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    username: str | None = None
    password: str | None = None           # read from password_file, never written in the config
    reconnect_min: int = 1
    reconnect_max: int = 30

    @classmethod
    def from_table(cls, t: Table, *, hall_id: str, window_id: str, config_dir: Path) -> "MqttSettings":
        ca = t.path("ca_file", None, base=config_dir, must_exist=True)
        cert = t.path("cert_file", None, base=config_dir, must_exist=True)
        key = t.path("key_file", None, base=config_dir, must_exist=True)
        tls = t.bool("tls", ca is not None or cert is not None)
        if (cert is None) != (key is None):
            raise t.error("cert_file" if cert is None else "key_file",
                          "a client certificate needs both cert_file and key_file", "set both or neither")
        if cert is not None and not tls:
            raise t.error("tls", "is false but a client certificate is configured", "set tls = true")
        username = t.str("username", None)
        pw_path = t.path("password_file", None, base=config_dir, must_exist=True)
        password = None
        if pw_path is not None:
            if username is None:
                raise t.error("password_file", "is set without username", "add username = \"...\"")
            try:
                password = pw_path.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as e:
                raise t.error("password_file", f"cannot be read ({e})", "check its permissions") from None
            if not password:
                raise t.error("password_file", f"{pw_path} is empty", "write the password into it")
        protocol = t.str("protocol", "5", choices=tuple(PROTOCOLS))
        settings = cls(
            host=t.str("host"),
            port=t.int("port", 8883 if tls else 1883, min=1, max=65535),
            client_id=t.str("client_id", f"kiosk-{hall_id}-{window_id}"),
            keepalive=t.int("keepalive", 30, min=5, max=600),
            protocol=protocol,
            session_expiry=t.int("session_expiry", 7 * 24 * 3600, min=60, max=0xFFFFFFFF),
            tls=tls, ca_file=ca, cert_file=cert, key_file=key,
            username=username, password=password,
            reconnect_min=t.int("reconnect_min", 1, min=1, max=60),
            reconnect_max=t.int("reconnect_max", 30, min=1, max=3600))
        if settings.reconnect_max < settings.reconnect_min:
            raise t.error("reconnect_max", "is below reconnect_min", "raise it")
        t.reject_unknown()
        return settings


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
        c = (mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5) if v5 else
             mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id, clean_session=False,
                         protocol=mqtt.MQTTv311))
        c.will_set(self.topics["status"], b"offline", qos=1, retain=True)
        if s.tls:
            c.tls_set(ca_certs=str(s.ca_file) if s.ca_file else None,
                      certfile=str(s.cert_file) if s.cert_file else None,
                      keyfile=str(s.key_file) if s.key_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
        if s.username is not None:
            c.username_pw_set(s.username, s.password)
        c.reconnect_delay_set(s.reconnect_min, s.reconnect_max)
        c.on_connect = self._on_connect
        c.on_disconnect = self._on_disconnect
        c.on_message = self._on_message
        self.client = c
        self.intake.set_state(False, f"connecting to {s.host}:{s.port}")
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
        self.intake.set_state(False, "stopped")

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
