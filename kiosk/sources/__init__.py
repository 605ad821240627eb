"""Ticket sources: where the kiosk's TicketEvents come from (DESIGN §4).

    source = open_source(cfg.table("queue"), hall_id=..., window_id=..., config_dir=...)
    source.start(on_event)        # on_event(TicketEvent) on a background thread, replays dropped
    source.send_done("A023", rated=1, unrated=0)
    source.status                 # SourceStatus(connected, detail, received, rejected)
    source.stop()

on_event runs on the source's reader thread (paho's network thread for
MQTT): it must return quickly (hand the event to the kiosk's own queue), or
the MQTT keepalive and the serial reader stall. Replays are dropped before
on_event by an in-memory EventDeduplicator; after a kiosk restart the kiosk's
own "one record per (ticket, matter)" rule is the guard.
"""
from __future__ import annotations

from pathlib import Path

from hallcore.config import Table
from kiosk.sources.intake import SourceStatus, TicketSource

__all__ = ["SourceStatus", "TicketSource", "open_source"]

SOURCES = ("mqtt", "serial")


def open_source(queue: Table, *, hall_id: str, window_id: str, config_dir: Path) -> TicketSource:
    """The source the tablet's [queue] table names, validated but not started.

    Raises hallcore.config.ConfigError naming the key and the fix.
    """
    kind = queue.str("source", choices=SOURCES)
    mqtt_table, serial_table = queue.table("mqtt"), queue.table("serial")
    queue.reject_unknown()
    config_dir = Path(config_dir)
    if kind == "mqtt":
        from hallcore.mqtt import MqttSettings
        from kiosk.sources.mqtt import MqttSource
        settings = MqttSettings.from_table(mqtt_table, hall_id=hall_id, window_id=window_id,
                                           config_dir=config_dir)
        return MqttSource(settings, hall_id=hall_id, window_id=window_id)
    from kiosk.sources.serialport import SerialSettings, SerialSource
    return SerialSource(SerialSettings.from_table(serial_table, config_dir=config_dir), window_id=window_id)
