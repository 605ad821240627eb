"""The whole chain as real processes (issue 6): mosquitto, the queue simulator
(hall-queue-sim), a headless kiosk (real MQTT source, KioskFlow, journal and
outbox; a robot taps), hall-agent and the center. 300 tickets with random
votes while the agent is SIGKILLed and restarted and the center is stopped
and started. Then the center holds exactly the records the kiosk stored,
each once, seq without gaps, chained (schema 2) with `hall-center audit`
finding the chain intact, and every bad review has a case whose deadline
is the 2-working-day deadline of the shared calendar."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import timezone

import pytest
from sqlalchemy import create_engine, select

from hallcore.chain import verify_chain
from outbox.store import Outbox
from hallcore.record import parse_time
from hallcore.workdays import HANDLING_WORKDAYS, WorkCalendar, deadline
from tests.support.agent_proc import REPO, AgentProcess, agent_log, write_tablet_config
from tests.support.waiting import wait_for

pytestmark = pytest.mark.slow
TICKETS = 300


def kiosk_tables(broker) -> str:
    return f"""
[office]
closing = "17:30"
holiday_file = "{REPO / 'config' / 'holidays.toml'}"

[kiosk]
scale = 3
reminder_after_s = 5
timeout_s = 10
thanks_s = 1
carry_over_guard_s = 0
fullscreen = false
audio = false

[queue]
source = "mqtt"

[queue.mqtt]
host = "{broker.host}"
port = {broker.port}
"""


def stop_proc(p: subprocess.Popen | None) -> None:
    if p is not None and p.poll() is None:
        p.terminate()
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


def read_json(path):
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def test_whole_chain_with_agent_kills_and_a_center_outage(tmp_path, mosquitto, running_center):
    c = running_center
    cfg = write_tablet_config(tmp_path / "tablet", c.url, c.token, extra=kiosk_tables(mosquitto),
                              agent={"batch_size": 20})
    storage = cfg.parent
    agent = AgentProcess(cfg)
    out = (storage / "robot.log").open("ab")
    robot = subprocess.Popen([sys.executable, str(REPO / "tests" / "support" / "kiosk_robot.py"),
                              "--config", str(cfg), "--seed", "7"], stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
    sim = None
    try:
        wait_for(lambda: robot.poll() is None and (storage / "robot-state.json").exists(), 30,
                   what="the headless kiosk to start")
        agent.start()
        sim = subprocess.Popen([sys.executable, "-m", "kiosk.simulator", "--mqtt",
                                f"mqtt://{mosquitto.host}:{mosquitto.port}", "--hall", "taojiang",
                                "--window", "03", "--count", str(TICKETS), "--rate", "6000",
                                "--service-time", "0-0.02", "--cancel-ratio", "0.05", "--wait-done",
                                "--done-timeout", "30", "--seed", "11"],
                               stdout=out, stderr=subprocess.STDOUT, cwd=REPO)
        kills, outage_done, end = 0, False, time.monotonic() + 150
        while sim.poll() is None and time.monotonic() < end:   # chaos while tickets flow
            time.sleep(1.0)
            agent.kill()
            kills += 1
            time.sleep(0.3)
            agent.start()
            if kills == 3 and not outage_done:
                c.stop()
                time.sleep(3)
                c.start()
                outage_done = True
        assert sim.wait(30) == 0, "the simulator did not get every back-channel"
        assert kills >= 3 and outage_done
        wait_for(lambda: (s := read_json(storage / "robot-state.json")).get("screen") == "idle"
                   and s.get("pending_events") == 0, 30, what="the kiosk to finish the last ticket")
        box = Outbox(storage / "outbox", "tab-03")
        try:
            wait_for(lambda: agent.check() and box.counts()["pending"] == 0, 90,
                       what="the agent to drain the outbox:\n" + agent_log(cfg))
            assert box.counts()["quarantined"] == 0
        finally:
            box.close()
    finally:
        stop_proc(sim)
        stop_proc(robot)
        agent.stop()
        out.close()

    kiosk = [json.loads(line) for line in (storage / "robot-stored.jsonl").read_text().splitlines()]
    at_center = [r for r in c.records() if r["device_id"] == "tab-03"]
    assert len(kiosk) >= TICKETS * 0.9                       # one record per matter, cancels aside
    assert len({r["id"] for r in at_center}) == len(at_center)
    assert {r["id"] for r in at_center} == {r["id"] for r in kiosk}
    assert sorted(r["seq"] for r in at_center) == list(range(1, len(kiosk) + 1))
    # each record chained by the outbox (schema 2), and the chain intact at the center
    assert {r["schema"] for r in at_center} == {2}
    assert verify_chain(at_center) == []
    audit = subprocess.run([sys.executable, "-m", "center.cli", "audit", "--config", str(c.config_path),
                            "--device", "tab-03"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert audit.returncode == 0 and "tab-03: intact" in audit.stdout, audit.stdout + audit.stderr

    bad = {r["id"]: r for r in kiosk if r["bad"]}
    assert len(bad) >= 20
    from center.db import cases
    engine = create_engine(c.database)
    try:
        with engine.connect() as conn:
            rows = {r.record_id: r for r in conn.execute(select(cases.c.record_id, cases.c.due_at,
                                                                cases.c.tablet_due_at))}
    finally:
        engine.dispose()
    assert set(rows) == set(bad), "every bad review, and only those, has a case"
    cal = WorkCalendar(REPO / "config" / "holidays.toml")
    for rid, r in bad.items():
        due = deadline(parse_time(r["voted_at"]), HANDLING_WORKDAYS, calendar=cal).due_at
        assert parse_time(r["due_at"]) == due
        utc = due.astimezone(timezone.utc).replace(tzinfo=None)
        assert rows[rid].due_at == utc and rows[rid].tablet_due_at == utc
