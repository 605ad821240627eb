"""Alerts to an MQTT topic through a real mosquitto (center/alerting.py):
delivered when the broker is up, kept and retried while it is down."""
import json
import threading
import time
from datetime import datetime

import paho.mqtt.client as mqtt
import pytest

from hallcore.hallclock import DEFAULT_TZ
from center.alerting import deliver_pending
from center.config import AlertConfig
from center.ingest import ingest
from tests.support.center import Clock, make_center, make_vote
from tests.support.mosquitto import Mosquitto

TOPIC = "hall/center/alerts"


@pytest.fixture
def broker(tmp_path):
    """Not started: the test starts it after a first failed delivery."""
    b = Mosquitto(tmp_path / "mosquitto")
    yield b
    b.stop()


def subscribe(port):
    got, ready = [], threading.Event()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2)
    c.on_connect = lambda cl, *a: cl.subscribe(TOPIC, qos=1)
    c.on_subscribe = lambda *a: ready.set()
    c.on_message = lambda cl, ud, msg: got.append(json.loads(msg.payload))
    c.connect("127.0.0.1", port)
    c.loop_start()
    assert ready.wait(10)
    return c, got


def wait_for(got, n=1, timeout=10):
    end = time.monotonic() + timeout
    while len(got) < n and time.monotonic() < end:
        time.sleep(0.05)
    return got


def test_new_bad_review_is_published_to_the_mqtt_topic_after_the_broker_comes_back(broker, tmp_path):
    clock = Clock(datetime(2026, 11, 27, 15, 1, tzinfo=DEFAULT_TZ))
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path, clock=clock,
                    alerts=AlertConfig(mqtt_host="127.0.0.1", mqtt_port=broker.port, mqtt_topic=TOPIC,
                                       retry_first_s=30))
    try:
        c.add_device("tab-03", "taojiang", "03")
        ingest(c, "tab-03", [make_vote("tab-03", 1, bad=True)])
        assert deliver_pending(c) == {"sent": 0, "failed": 1}        # broker not running yet
        broker.start()
        sub, got = subscribe(broker.port)
        try:
            assert deliver_pending(c) == {"sent": 0, "failed": 0}    # waits for its retry time
            clock.advance(seconds=31)
            assert deliver_pending(c) == {"sent": 1, "failed": 0}
            (msg,) = wait_for(got)
            assert msg["kind"] == "new_case" and msg["window_id"] == "03"
            assert msg["due_at"] == "2026-12-01T17:30:00+08:00" and msg["reasons"] == ["拖拉推诿"]
        finally:
            sub.loop_stop()
            sub.disconnect()
    finally:
        c.engine.dispose()


def test_a_delivered_mqtt_alert_logs_no_error(broker, tmp_path, caplog):
    """paho's publish.single logged ERROR "Client is not connected" after every
    acknowledged publish; the center's log must not claim a failure that the
    alerts table shows as delivered."""
    caplog.set_level("DEBUG")
    broker.start()
    c = make_center(f"sqlite:///{tmp_path / 'c.sqlite3'}", tmp_path,
                    clock=Clock(datetime(2026, 11, 27, 15, 1, tzinfo=DEFAULT_TZ)),
                    alerts=AlertConfig(mqtt_host="127.0.0.1", mqtt_port=broker.port, mqtt_topic=TOPIC))
    sub, got = subscribe(broker.port)
    try:
        c.add_device("tab-03", "taojiang", "03")
        ingest(c, "tab-03", [make_vote("tab-03", 1, bad=True), make_vote("tab-03", 2, bad=True)])
        assert deliver_pending(c) == {"sent": 2, "failed": 0}
        assert [m["kind"] for m in wait_for(got, 2)] == ["new_case", "new_case"]
    finally:
        sub.loop_stop()
        sub.disconnect()
        c.engine.dispose()
    assert [r.getMessage() for r in caplog.records if r.levelno >= 30] == []
    assert any(r.name == "center.alerts.mqtt" for r in caplog.records)     # paho's log is routed here
