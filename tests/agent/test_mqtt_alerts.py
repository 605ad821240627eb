"""Bad reviews and deadline alerts on the MQTT alert topic (agent/mqtt_alerts.py),
through a real mosquitto."""
from __future__ import annotations

import json
import queue
from datetime import datetime, timedelta

import paho.mqtt.client as mqtt
import pytest

from agent.config import AgentSettings, CenterConfig, MqttAlerts
from agent.mqtt_alerts import AlertPublisher, bad_review_alert
from outbox.store import Outbox
from agent.run import Agent
from agent.sender import Sender
from hallcore.mqtt import MqttSettings
from tests.support.outbox_records import vote
from tests.support.waiting import wait_for

TOPIC = "hall/taojiang/alerts"


@pytest.fixture
def subscriber(mosquitto):
    got: queue.Queue = queue.Queue()
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="dashboard")
    c.on_message = lambda _c, _u, msg: got.put(json.loads(msg.payload))
    c.on_connect = lambda cl, *_: cl.subscribe(TOPIC, qos=1)
    c.connect(mosquitto.host, mosquitto.port)
    c.loop_start()
    yield got
    c.loop_stop()
    c.disconnect()


@pytest.fixture
def agent(tmp_path, mosquitto):
    (tmp_path / "tok").write_text("t")
    box = Outbox(tmp_path / "outbox", "tab-03")
    sender = Sender(CenterConfig(url="http://127.0.0.1:9", token_file=tmp_path / "tok"), "tab-03")
    pub = AlertPublisher(MqttAlerts(MqttSettings(host=mosquitto.host, port=mosquitto.port,
                                                 client_id="agent-taojiang-03"), TOPIC))
    a = Agent(box, sender, AgentSettings(status_file=tmp_path / "st.json", backoff_base=0.05, backoff_cap=0.1,
                                         alert_before=timedelta(hours=4)), publisher=pub)
    yield a
    pub.close()
    sender.close()
    box.close()


def take(q: queue.Queue, n: int) -> list[dict]:
    return [q.get(timeout=10) for _ in range(n)]


def test_every_bad_review_is_published_once_with_the_phone_masked(agent, subscriber):
    bad = agent.outbox.put(vote(1, bad=True, contact_phone="13812345678"))
    agent.outbox.put(vote(2))
    agent.send_one_batch()            # the center is unreachable: the alert still goes out
    [msg] = take(subscriber, 1)
    assert msg["kind"] == "bad_review" and msg["id"] == bad["id"] and msg["contact_phone"] == "138****5678"
    assert msg["due_at"] == bad["due_at"] and msg["window_id"] == "03"
    wait_for(lambda: (agent.collect_published(), bad["id"] in agent.published)[1], 10,
               what="the broker's acknowledgement")
    agent.send_one_batch()
    assert subscriber.empty()         # already published: not again


def test_bad_review_is_published_at_once_while_the_agent_waits_out_a_backoff(agent, subscriber):
    agent.outbox.put(vote(5))
    agent.send_one_batch()                      # refused: backing off
    agent.next_send = agent.mono() + 3600       # a long wait ahead
    agent.next_heartbeat = agent.next_alert_check = agent.next_send
    bad = agent.outbox.put(vote(6, bad=True))
    agent.turn()
    [msg] = take(subscriber, 1)
    assert msg["id"] == bad["id"] and agent.outbox.counts()["pending"] == 2


def test_deadline_alert_is_published(agent, subscriber):
    late = agent.outbox.put(vote(3, bad=True, due_at=datetime.now().astimezone() - timedelta(minutes=1)))
    agent.check_deadlines()
    [msg] = take(subscriber, 1)
    assert (msg["kind"], msg["id"], msg["level"], msg["where"]) == ("deadline", late["id"], "overdue", "pending")


def test_alert_message_carries_no_full_phone_number():
    rec = vote(4, bad=True, contact_phone="13912345678")
    assert "13912345678" not in json.dumps(bad_review_alert(rec))


