"""The agent's loop pieces in-process against the real center (agent/run.py)."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select

from agent.config import AgentSettings, CenterConfig
from outbox.store import Outbox
from agent.run import BACKING_OFF, Agent
from agent.sender import Sender
from agent.status import read_status
from hallcore.chain import chain_hash
from tests.support.outbox_records import vote

DEVICE = "tab-03"


@pytest.fixture
def make_agent(tmp_path):
    made = []

    def make(url: str, token: str, monotonic=None, **settings) -> Agent:
        token_file = tmp_path / "device.token"
        token_file.write_text(token)
        box = Outbox(tmp_path / "outbox", DEVICE)
        sender = Sender(CenterConfig(url=url, token_file=token_file, connect_timeout=1, read_timeout=2), DEVICE)
        kw = dict(status_file=tmp_path / "agent-status.json", backoff_base=0.05, backoff_cap=0.2)
        kw.update(settings)
        made.append((box, sender))
        extra = {"monotonic": monotonic} if monotonic else {}
        return Agent(box, sender, AgentSettings(**kw), **extra)
    yield make
    for box, sender in made:
        sender.close()
        box.close()


def test_a_bad_review_goes_ahead_of_a_backlog(running_center, make_agent):
    c = running_center
    agent = make_agent(c.url, c.token, batch_size=500)
    for i in range(300):
        agent.outbox.put(vote(i))
    bad = agent.outbox.put(vote(300, bad=True))
    assert agent.send_one_batch()
    assert [r["id"] for r in c.records()] == [bad["id"]]
    while agent.send_one_batch():
        pass
    assert len(c.records()) == 301 and agent.outbox.counts()["pending"] == 0


def test_heartbeat_tells_the_center_the_outbox_state(running_center, make_agent):
    c = running_center
    agent = make_agent(c.url, c.token)
    last = [agent.outbox.put(vote(i)) for i in range(4)][-1]
    agent.heartbeat()
    from center.db import devices
    engine = create_engine(c.database)
    try:
        with engine.connect() as conn:
            row = conn.execute(select(devices).where(devices.c.device_id == DEVICE)).one()
    finally:
        engine.dispose()
    beat = row.heartbeat
    assert beat["pending"] == 4 and beat["quarantined"] == 0 and beat["version"]
    assert beat["oldest_pending"].startswith("2026-11-27T09:00")
    # the chain head: the last record put, kept per device with the pending count beside it
    assert beat["chain_head"] == {"seq": 4, "hash": chain_hash(last)}
    assert (row.chain_seq, row.chain_hash, row.chain_pending) == (4, chain_hash(last), 4)


def test_center_unreachable_backs_off_and_keeps_every_record(make_agent, tmp_path):
    agent = make_agent("http://127.0.0.1:9", "t")    # discard port: connection refused
    for i in range(3):
        agent.outbox.put(vote(i))
    assert not agent.send_one_batch()
    assert agent.state == BACKING_OFF and "refused" in agent.last_error
    assert agent.outbox.counts()["pending"] == 3
    st = read_status(tmp_path / "agent-status.json") or agent.write_status(force=True)
    assert st["pending"] == 3


def test_unsent_bad_review_near_its_deadline_raises_one_alert(make_agent, tmp_path, caplog):
    agent = make_agent("http://127.0.0.1:9", "t", alert_before=timedelta(hours=4))
    now = datetime.now().astimezone()
    soon = agent.outbox.put(vote(0, bad=True, due_at=now + timedelta(hours=1)))
    agent.outbox.put(vote(1, bad=True, due_at=now + timedelta(days=3)))
    late = agent.outbox.put(vote(2, bad=True, due_at=now - timedelta(minutes=5)))
    with caplog.at_level(logging.ERROR, logger="agent"):
        agent.check_deadlines()
        agent.check_deadlines()
    st = read_status(tmp_path / "agent-status.json")
    shown = {(a["id"], a["level"]) for a in st["alerts"]}
    assert shown == {(soon["id"], "due_soon"), (late["id"], "overdue")}
    said = {(r.getMessage(), r.levelname, r.alert_level) for r in caplog.records if hasattr(r, "alert_level")}
    assert said == {("bad review still on the tablet near its deadline", "ERROR", "due_soon"),
                    ("bad review still on the tablet past its deadline", "ERROR", "overdue")}
    # a restarted agent remembers what it already raised
    again = Agent(agent.outbox, agent.sender, agent.settings)
    again.check_deadlines()
    assert {(a["id"], a["level"]) for a in read_status(tmp_path / "agent-status.json")["alerts"]} == shown


def test_idle_status_file_is_rewritten_only_on_change_or_every_30_s(make_agent, tmp_path):
    clock = [1000.0]
    agent = make_agent("http://127.0.0.1:9", "t", monotonic=lambda: clock[0])
    path = tmp_path / "agent-status.json"
    agent.write_status(force=True)
    path.unlink()                            # so any rewrite shows
    for _ in range(5):                       # nothing changes: no rewrite (flash wear)
        clock[0] += 2
        agent.write_status()
    assert not path.exists()
    agent.outbox.put(vote(1))
    agent._counts_dirty = True
    clock[0] += 2
    agent.write_status()
    assert read_status(path)["pending"] == 1   # a change is written at once
    path.unlink()
    clock[0] += 31
    agent.write_status()                      # nothing changed, but the clock must stay fresh
    assert path.exists()
