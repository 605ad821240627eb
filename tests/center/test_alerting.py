"""Alerts to an MQTT topic through a real mosquitto (center/alerting.py):
delivered when the broker is up, kept and retried while it is down. Every
alert carries its id for the receiver to drop a repeat (webhook: body and
Idempotency-Key header), and an instance whose lease ended during a send
writes nothing over the instance that took the alert over."""
import json
import logging
import os
import socket
import threading
import time
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from hallcore.hallclock import DEFAULT_TZ
from sqlalchemy import select

from center.alerting import deliver_pending
from center.config import AlertConfig
from center.db import alerts
from center.ingest import ingest
from tests.support.center import Clock, make_center, make_vote
from tests.support.mosquitto import Mosquitto
from tests.support.webhook import Receiver

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
            assert msg["alert_id"] == alert_rows(c, "mqtt")[0].id                # the idempotency key
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


def alert_rows(center, channel):
    with center.engine.connect() as conn:
        return conn.execute(select(alerts).where(alerts.c.channel == channel).order_by(alerts.c.id)).all()


VOTED = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)


def test_a_webhook_delivery_names_its_alert_in_the_body_and_the_idempotency_key(db_url, tmp_path):
    with Receiver() as hook:
        c = make_center(db_url, tmp_path, clock=Clock(VOTED + timedelta(minutes=1)),
                        alerts=AlertConfig(webhook_url=hook.url))
        try:
            c.add_device("tab-03", "taojiang", "03")
            ingest(c, "tab-03", [make_vote("tab-03", s, bad=True, at=VOTED) for s in (1, 2)])
            assert deliver_pending(c) == {"sent": 2, "failed": 0}
            rows = alert_rows(c, "webhook")
        finally:
            c.engine.dispose()
    posts = hook.posts()
    assert [p.alert_id for p in posts] == [r.id for r in rows]
    assert [p.idempotency_key for p in posts] == [f'"{r.id}"' for r in rows]
    assert {p.instance for p in posts} == {f"{socket.gethostname()}:{os.getpid()}"}
    assert all(r.delivered_at is not None and r.attempts == 1 for r in rows)


def test_an_instance_whose_lease_ended_mid_send_leaves_the_outcome_to_the_one_that_took_over(
        db_url, tmp_path, caplog):
    """Instance A's send outlasts its lease; B claims the alert, sends it and
    records it. A's late answer then writes nothing: the row shows B's one
    delivery, and the receiver got the same alert_id twice (the repeat its
    key lets it drop)."""
    clock = Clock(VOTED + timedelta(minutes=1))
    cfg = AlertConfig(webhook_url="http://127.0.0.1:9/unused", lease_s=60)
    got: list[tuple[str, int]] = []

    def b_sender(_cfg, payload):
        got.append(("B", payload["alert_id"]))

    b = None

    def a_sender(_cfg, payload):
        got.append(("A", payload["alert_id"]))
        clock.advance(seconds=61)                       # A stalls past its lease …
        assert deliver_pending(b) == {"sent": 1, "failed": 0}     # … and B takes the alert over

    a = make_center(db_url, tmp_path, clock=clock, alerts=cfg, senders={"webhook": a_sender})
    b = make_center(db_url, tmp_path, clock=clock, alerts=cfg, senders={"webhook": b_sender})
    try:
        a.add_device("tab-03", "taojiang", "03")
        ingest(a, "tab-03", [make_vote("tab-03", 1, bad=True, at=VOTED)])
        with caplog.at_level(logging.WARNING, "center.alerts"):
            assert deliver_pending(a) == {"sent": 1, "failed": 0}
        (row,) = alert_rows(a, "webhook")
        assert got == [("A", row.id), ("B", row.id)]
        assert row.attempts == 1 and row.delivered_at is not None      # B's outcome, not overwritten
        assert any("lease ended during the send" in r.getMessage() for r in caplog.records)
        assert deliver_pending(a) == deliver_pending(b) == {"sent": 0, "failed": 0}
    finally:
        a.engine.dispose()
        b.engine.dispose()


def test_a_round_gives_back_what_it_may_no_longer_start(db_url, tmp_path, monkeypatch):
    """Past half its lease a round stops sending; the rest is due at once again."""
    from center import leasing
    clock = Clock(VOTED + timedelta(minutes=1))
    sent: list[int] = []
    c = make_center(db_url, tmp_path, clock=clock, alerts=AlertConfig(webhook_url="http://127.0.0.1:9/x"),
                    senders={"webhook": lambda _cfg, p: sent.append(p["alert_id"])})
    try:
        c.add_device("tab-03", "taojiang", "03")
        ingest(c, "tab-03", [make_vote("tab-03", s, bad=True, at=VOTED) for s in (1, 2, 3)])
        answers = iter([True, False])                   # room for one send, then the lease is half gone
        monkeypatch.setattr(leasing.Claim, "sendable", lambda self: next(answers))
        assert deliver_pending(c) == {"sent": 1, "failed": 0}
        monkeypatch.setattr(leasing.Claim, "sendable", lambda self: True)
        assert deliver_pending(c) == {"sent": 2, "failed": 0}          # due again at once, not after the lease
        assert sorted(sent) == [r.id for r in alert_rows(c, "webhook")]
    finally:
        c.engine.dispose()

