"""MQTT ticket source against a real mosquitto on a free loopback port."""
import json
import signal
import subprocess
import sys
import textwrap

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from hallcore.config import ConfigError, Table
from kiosk.events import TicketEvent, event_to_json
from kiosk.sources import open_source
from kiosk.sources.mqtt import topics
from tests.support.certs import make_pki
from tests.support.collector import Collector
from tests.support.mosquitto import Mosquitto
from tests.support.waiting import wait_for

HALL, WINDOW = "taojiang", "03"
TOPICS = topics(HALL, WINDOW)


class Peer:
    """The queue system's side: a plain paho client that publishes and listens."""

    def __init__(self, broker, subscribe=(), *, pki=None, user=None):
        self.messages: list[tuple[str, bytes, bool]] = []
        self.c = mqtt.Client(CallbackAPIVersion.VERSION2, client_id="queue-system")
        if pki is not None:
            self.c.tls_set(ca_certs=str(pki.ca), certfile=str(pki.client_cert), keyfile=str(pki.client_key))
        if user is not None:
            self.c.username_pw_set(*user)
        self.c.on_message = lambda c, u, m: self.messages.append((m.topic, m.payload, m.retain))
        self.c.connect(broker.host, broker.port)
        for t in subscribe:
            self.c.subscribe(t, qos=1)
        self.c.loop_start()

    def publish(self, *events, window=WINDOW):
        for e in events:
            data = e if isinstance(e, bytes) else event_to_json(e)
            self.c.publish(topics(HALL, window)["queue"], data, qos=1).wait_for_publish(5)

    def close(self):
        self.c.disconnect()
        self.c.loop_stop()


@pytest.fixture
def peer(mosquitto):
    peers = []

    def make(subscribe=(), broker=None, **kw):
        peers.append(Peer(broker or mosquitto, subscribe, **kw))
        return peers[-1]
    yield make
    for p in peers:
        p.close()


class Kiosk(Collector):
    """Starts sources the way the kiosk does and collects what they deliver."""

    def __init__(self, broker, **mqtt_keys):
        super().__init__()
        self.keys = {"host": broker.host, "port": broker.port, "reconnect_max": 1, **mqtt_keys}
        self.source = None

    def start(self, config_dir=".", wait=True):
        self.source = open_source(Table({"source": "mqtt", "mqtt": self.keys}, "queue"),
                                  hall_id=HALL, window_id=WINDOW, config_dir=config_dir)
        self.source.start(self)
        if wait:
            wait_for(lambda: self.source.status.connected, what="kiosk connected")
        return self.source

    def stop(self):
        if self.source is not None:
            self.source.stop()


@pytest.fixture
def kiosk(mosquitto):
    kiosks = []

    def make(broker=None, **keys):
        kiosks.append(Kiosk(broker or mosquitto, **keys))
        return kiosks[-1]
    yield make
    for k in kiosks:
        k.stop()


def ev(kind, ticket, **kw):
    return TicketEvent(kind, ticket, WINDOW, staff_id="1024", **kw)


def test_events_arrive_in_order(kiosk, peer):
    k = kiosk()
    k.start()
    peer().publish(ev("call", "A001"), ev("finish", "A001"), ev("cancel", "A002"))
    wait_for(lambda: len(k.tickets()) == 3, what="three events")
    assert k.tickets() == [("call", "A001"), ("finish", "A001"), ("cancel", "A002")]
    assert k.source.status.received == 3


def test_bad_messages_are_counted_and_the_source_keeps_running(kiosk, peer):
    k = kiosk()
    src = k.start()
    p = peer()
    p.publish(b"{oops", b'{"event": "call", "ticket": 7, "window": "03"}',
              json.dumps({"event": "call", "ticket": "A1", "window": "03", "staff_name": "x" * 9000}).encode(),
              b'{"event": "start", "ticket": "A1"}', json.dumps({"event": "call", "ticket": "A9", "window": "07"}).encode())
    p.publish(ev("call", "A010"), ev("call", "A010"))   # the second is a replay
    wait_for(lambda: src.status.rejected.get("duplicate"), what="duplicate counted")
    assert k.tickets() == [("call", "A010")]
    assert src.status.rejected == {"bad_json": 1, "wrong_type": 1, "too_large": 1, "unknown_event": 1,
                                   "wrong_window": 1, "duplicate": 1}
    assert src.status.connected


def test_back_channel_carries_done_counts_and_status_is_retained(kiosk, peer):
    listener = peer(subscribe=[TOPICS["evaluation"], TOPICS["status"]])
    k = kiosk()
    src = k.start()
    src.send_done("A023", 1, 1)
    wait_for(lambda: any(t == TOPICS["evaluation"] for t, _, _ in listener.messages), what="back-channel")
    done = [json.loads(p) for t, p, _ in listener.messages if t == TOPICS["evaluation"]]
    assert done == [{"ticket": "A023", "status": "done", "rated": 1, "unrated": 1}]
    k.stop()
    wait_for(lambda: (TOPICS["status"], b"offline", False) in listener.messages, what="offline status")
    late = peer(subscribe=[TOPICS["status"]])            # a dashboard that connects later
    wait_for(lambda: late.messages, what="retained status")
    assert late.messages == [(TOPICS["status"], b"offline", True)]


def test_last_will_says_offline_when_the_kiosk_dies(mosquitto, peer):
    listener = peer(subscribe=[TOPICS["status"]])
    code = textwrap.dedent(f"""
        import time
        from hallcore.config import Table
        from kiosk.sources import open_source
        src = open_source(Table({{"source": "mqtt", "mqtt": {{"host": "127.0.0.1", "port": {mosquitto.port}}}}}),
                          hall_id="{HALL}", window_id="{WINDOW}", config_dir=".")
        src.start(print)
        time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code])
    try:
        wait_for(lambda: (TOPICS["status"], b"online", False) in listener.messages, what="online")
        proc.send_signal(signal.SIGKILL)
        wait_for(lambda: (TOPICS["status"], b"offline", False) in listener.messages, what="last will")
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_events_published_while_kiosk_is_away_arrive_once(kiosk, peer, protocol):
    first = kiosk(protocol=protocol)
    first.start()
    p = peer()
    p.publish(ev("call", "A001"))
    wait_for(lambda: first.tickets(), what="first event")
    first.stop()                                          # tablet offline; its session stays
    p.publish(ev("finish", "A001"), ev("call", "A002"), ev("finish", "A002"))
    second = kiosk(protocol=protocol)                     # same client id: the persistent session
    second.start()
    p.publish(ev("call", "A003"))                         # sentinel: everything queued is before it
    wait_for(lambda: ("call", "A003") in second.tickets(), what="sentinel")
    assert second.tickets() == [("finish", "A001"), ("call", "A002"), ("finish", "A002"), ("call", "A003")]


@pytest.mark.parametrize("protocol", ["5", "3.1.1"])
def test_queued_events_survive_a_broker_restart_exactly_once(kiosk, peer, mosquitto, protocol):
    k = kiosk(protocol=protocol)
    k.start()
    k.stop()
    p = peer()
    p.publish(ev("call", "B001"), ev("finish", "B001"))
    p.close()
    mosquitto.restart()                                   # persistence keeps the session's queue
    k2 = kiosk(protocol=protocol)
    k2.start()
    p2 = peer()
    p2.publish(ev("call", "B002"))
    wait_for(lambda: ("call", "B002") in k2.tickets(), what="sentinel")
    assert k2.tickets() == [("call", "B001"), ("finish", "B001"), ("call", "B002")]


def test_running_kiosk_reconnects_after_broker_restart_and_drops_redeliveries(kiosk, peer, mosquitto, caplog):
    caplog.set_level("INFO", logger="kiosk.sources")
    k = kiosk()
    src = k.start()
    p = peer()
    p.publish(ev("call", "C001"))
    wait_for(lambda: k.tickets(), what="first event")
    p.close()
    mosquitto.restart()
    wait_for(lambda: src.status.connected, what="reconnected")
    p2 = peer()
    p2.publish(ev("call", "C001"), ev("finish", "C001"))   # the queue system resends after its own reconnect
    wait_for(lambda: ("finish", "C001") in k.tickets(), what="finish")
    assert k.tickets() == [("call", "C001"), ("finish", "C001")]
    assert src.status.rejected == {"duplicate": 1}
    k.stop()
    # connecting and stopping are news, losing the broker is a warning
    states = [(r.levelname, r.getMessage().split(": ")[1]) for r in caplog.records
              if r.name == "kiosk.sources" and "rejected" not in r.getMessage()]
    assert [lv for lv, _ in states] == ["INFO", "INFO", "WARNING", "INFO", "INFO"], states
    assert states[2][1].startswith("disconnected") and states[-1][1] == "stopped"


def test_back_channel_sent_while_disconnected_is_delivered_after_reconnect(kiosk, peer, mosquitto):
    k = kiosk()
    src = k.start()
    mosquitto.stop()
    wait_for(lambda: not src.status.connected, what="disconnect noticed")
    src.send_done("D001", 1, 0)                           # never raises; paho keeps it queued
    mosquitto.start()
    listener = peer(subscribe=[TOPICS["evaluation"]])
    wait_for(lambda: src.status.connected, what="reconnected")
    wait_for(lambda: listener.messages, what="queued back-channel")
    assert json.loads(listener.messages[0][1])["ticket"] == "D001"


@pytest.fixture
def tls_broker(tmp_path):
    pki = make_pki(tmp_path / "pki")
    broker = Mosquitto(tmp_path / "tls-broker", tls=pki, require_certificate=True,
                       passwords={"kiosk-03": "s3cret", "queue": "q"})
    broker.start()
    try:
        yield broker, pki
    finally:
        broker.stop()


def test_tls_with_client_certificate_and_password_file(tmp_path, tls_broker, kiosk, peer):
    broker, pki = tls_broker
    (tmp_path / "mqtt-password").write_text("s3cret\n")
    k = kiosk(broker, ca_file=str(pki.ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key),
              username="kiosk-03", password_file="mqtt-password")
    k.start(config_dir=tmp_path)
    peer(broker=broker, pki=pki, user=("queue", "q")).publish(ev("call", "T001"))
    wait_for(lambda: k.tickets(), what="event over TLS")
    assert k.tickets() == [("call", "T001")]


def test_wrong_password_is_reported_in_status_and_retried(tmp_path, tls_broker, kiosk):
    broker, pki = tls_broker
    (tmp_path / "pw").write_text("wrong")
    k = kiosk(broker, ca_file=str(pki.ca), cert_file=str(pki.client_cert), key_file=str(pki.client_key),
              username="kiosk-03", password_file="pw")
    src = k.start(config_dir=tmp_path, wait=False)
    wait_for(lambda: src.status.detail.startswith("broker refused"), what="refusal")
    assert not src.status.connected


@pytest.mark.parametrize("keys, bad", [
    ({}, "queue.mqtt.host"),
    ({"host": "h", "port": 0}, "queue.mqtt.port"),
    ({"host": "h", "protocol": "4"}, "queue.mqtt.protocol"),
    ({"host": "h", "ca_file": "missing-ca.pem"}, "queue.mqtt.ca_file"),
    ({"host": "h", "password_file": "pw"}, "queue.mqtt.password_file"),
    ({"host": "h", "hots": "x"}, "queue.mqtt.hots"),
])
def test_bad_mqtt_config_names_the_key(tmp_path, keys, bad):
    (tmp_path / "pw").write_text("secret\n")
    with pytest.raises(ConfigError) as e:
        open_source(Table({"source": "mqtt", "mqtt": keys}, "queue"), hall_id=HALL, window_id=WINDOW,
                    config_dir=tmp_path)
    assert e.value.key == bad
