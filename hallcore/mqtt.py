"""One MQTT broker connection as the tablet's config describes it ([queue.mqtt]
for the kiosk, [agent.mqtt] for the agent's alerts): its settings, validated
from TOML, and a paho client set up from them (protocol, TLS, login, capped
reconnect backoff). Callers add their own topics and callbacks.
"""
from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from hallcore.config import Table

PROTOCOLS = {"5": mqtt.MQTTv5, "3.1.1": mqtt.MQTTv311}


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
    def from_table(cls, t: Table, *, hall_id: str, window_id: str, config_dir: Path,
                   role: str = "kiosk") -> "MqttSettings":
        """`role` names the default client id (<role>-<hall>-<window>): the kiosk
        and the agent on one tablet must never share one, or the broker
        throws each off in turn."""
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
            client_id=t.str("client_id", f"{role}-{hall_id}-{window_id}"),
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


def new_client(s: MqttSettings, *, persistent_session: bool = False) -> mqtt.Client:
    """A paho client for `s`, not yet connected. `persistent_session` keeps the
    broker's queue for us across disconnects (MQTT 3.1.1: clean_session
    false; MQTT 5 asks for it at connect time, with a session expiry)."""
    if s.protocol == "5":
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id, protocol=mqtt.MQTTv5)
    else:
        c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=s.client_id,
                        clean_session=not persistent_session, protocol=mqtt.MQTTv311)
    if s.tls:
        c.tls_set(ca_certs=str(s.ca_file) if s.ca_file else None,
                  certfile=str(s.cert_file) if s.cert_file else None,
                  keyfile=str(s.key_file) if s.key_file else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
    if s.username is not None:
        c.username_pw_set(s.username, s.password)
    c.reconnect_delay_set(s.reconnect_min, s.reconnect_max)
    return c
