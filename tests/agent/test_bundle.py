"""The agent's side of the bundle (agent/bundle.py, DESIGN.md §4.9) against the
real center: fetched after each heartbeat with If-None-Match, checked,
stored atomically and reported; a bad one (several kinds, sent by a proxy
in front of the center) refused and counted, the last good one kept; a
bundle that cannot be fetched never touches the sending of votes; and a
holiday imported with `hall-center calendar import` reaches the tablet's
calendar through the bundle, with the real agent process."""
from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import date, datetime

import pytest
from sqlalchemy import create_engine, select

from agent.bundle import BundleKeeper
from agent.config import load_config
from agent.run import BACKING_OFF, Agent
from agent.sender import Sender
from hallcore.bundle import parse_bundle
from hallcore.hallclock import DEFAULT_TZ
from hallcore.workdays import HANDLING_WORKDAYS, OVERRIDE, deadline
from outbox.store import Outbox
from tests.support.agent_proc import AgentProcess, agent_log, write_tablet_config
from tests.support.bundles import resealed, tampered
from tests.support.center import REPO, start_center
from tests.support.notices import HYPOTHETICAL_2027
from tests.support.outbox_records import vote
from tests.support.rewriting_proxy import RewritingProxy

BUNDLE_TOML = """
[bundle.kiosk]
timeout_s = 120
reasons = ["拖拉推诿", "乱收费", "其他"]
"""
DIRECTORY = """
[[department]]
id = "bdc"
name = "县不动产登记中心"
[[window]]
id = "03"
name = "不动产登记窗口"
department = "bdc"
[[staff]]
id = "1024"
name = "张三"
window = "03"
"""


def beat_of(c) -> dict:
    from center.db import devices
    engine = create_engine(c.database)
    try:
        with engine.connect() as conn:
            return conn.execute(select(devices.c.heartbeat).where(devices.c.device_id == c.device_id)).scalar()
    finally:
        engine.dispose()


def import_directory(c) -> None:
    path = c.config_path.parent / "directory.toml"
    path.write_text(DIRECTORY, encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "center.cli", "directory", "import", str(path), "--config",
                           str(c.config_path), "--yes"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def center(tmp_path):
    (tmp_path / "center").mkdir()
    (tmp_path / "center" / "holidays.toml").write_text("# none yet\n", encoding="utf-8")
    rc = start_center(tmp_path / "center", center='holiday_file = "holidays.toml"', extra=BUNDLE_TOML)
    import_directory(rc)
    try:
        yield rc
    finally:
        rc.stop()


@pytest.fixture
def make_agent(tmp_path):
    made = []

    def make(url: str, token: str, *, extra: str = "") -> Agent:
        cfg = load_config(write_tablet_config(tmp_path / "tablet", url, token, extra=extra))
        box = Outbox(cfg.outbox_folder, cfg.device_id)
        sender = Sender(cfg.center, cfg.device_id)
        made.append((box, sender))
        return Agent(box, sender, cfg.agent, bundle=BundleKeeper(cfg.tablet))
    yield make
    for box, sender in made:
        sender.close()
        box.close()


def stored(agent) -> bytes:
    return agent.bundle.tablet.bundle_path.read_bytes()


def test_the_bundle_is_fetched_stored_and_reported_then_costs_a_304(center, make_agent):
    agent = make_agent(center.url, center.token, extra='[bundle]\npinned = ["timeout_s"]\n')
    replies = []
    get = agent.sender.get_bundle
    agent.sender.get_bundle = lambda etag: replies.append((etag, get(etag))) or replies[-1][1]

    agent.heartbeat()
    assert replies[0][0] is None and replies[0][1].status == 200
    b = parse_bundle(stored(agent), hall_id="taojiang", window_id="03")
    assert b.kiosk["timeout_s"] == 120 and [c.name for c in b.staff] == ["张三"]
    assert agent.bundle.current.version == b.version and agent.bundle.error is None
    assert agent.next_heartbeat <= agent.mono()             # a new bundle is told at once

    agent.next_heartbeat = later = agent.mono() + 60           # as turn() sets it before a heartbeat
    agent.heartbeat()                                        # reports it, and asks again: unchanged
    assert replies[1][0] == b.etag and replies[1][1].status == 304 and replies[1][1].body == b""
    beat = beat_of(center)
    assert beat["bundle"] == {"version": b.version, "error": None, "refused": 0}
    assert beat["pinned"] == ["timeout_s"]
    assert beat["calendar"] and set(beat["calendar"].values()) <= {"official", "override", "estimated"}
    assert agent.next_heartbeat == later                     # nothing changed: the usual interval


KINDS = {
    "hash": lambda raw: tampered(raw, lambda env: env["content"]["kiosk"].update(timeout_s=999)),
    "unparsable": lambda raw: raw[: len(raw) // 2],
    "html": lambda raw: b"<html><body>502 Bad Gateway</body></html>",
    "field": lambda raw: resealed(raw, lambda c: c["kiosk"].update(timeout_s=5)),
    "unknown_setting": lambda raw: resealed(raw, lambda c: c["kiosk"].update(fullscreen=False)),
    "holidays": lambda raw: resealed(raw, lambda c: c.update(holidays='[2027]\nholidays = ["2028-01-01"]\n')),
    "window": lambda raw: resealed(raw, lambda c: c.update(window_id="07")),
    "photo": lambda raw: resealed(raw, lambda c: c["staff"][0].update(photo={"type": "image/png", "data": "AAAA"})),
}


def test_a_bad_bundle_of_any_kind_is_refused_reported_and_the_last_good_one_kept(center, make_agent):
    with RewritingProxy(center.url) as proxy:
        agent = make_agent(proxy.url, center.token)
        agent.heartbeat()
        good = stored(agent)
        version = agent.bundle.current.version
        for n, (kind, change) in enumerate(KINDS.items(), 1):
            proxy.bundle = change
            agent.outbox.put(vote(n))
            agent.fetch_bundle()
            assert stored(agent) == good, kind                   # the file is the last good bundle
            assert agent.bundle.current.version == version
            assert agent.bundle.refused == n and agent.bundle.error, kind
            assert agent.send_one_batch()                      # votes go on as before
            assert agent.outbox.counts()["pending"] == 0 and agent.state != BACKING_OFF
        error = agent.bundle.error
        agent.heartbeat()
        beat = beat_of(center)
        assert beat["bundle"] == {"version": version, "error": error, "refused": len(KINDS)}
        assert "photo" in error
        proxy.bundle = None                                    # the center's bundle is fine again
        agent.fetch_bundle()
        assert agent.bundle.error is None and stored(agent) == good


def test_the_refusal_reasons_name_what_is_wrong(center, make_agent):
    words = {"hash": "sha256 mismatch", "unparsable": "not JSON", "field": "kiosk.timeout_s: 5 is out of range",
             "unknown_setting": "kiosk.fullscreen: is not a known key", "holidays": "not in 2027",
             "window": "window '07'"}
    with RewritingProxy(center.url) as proxy:
        agent = make_agent(proxy.url, center.token)
        for kind, word in words.items():
            proxy.bundle = KINDS[kind]
            agent.fetch_bundle()
            assert word in agent.bundle.error, (kind, agent.bundle.error)
        assert not agent.bundle.tablet.bundle_path.exists()        # nothing good came: nothing stored


def test_a_bundle_that_cannot_be_fetched_never_disturbs_sending(center, make_agent):
    with RewritingProxy(center.url) as proxy:
        agent = make_agent(proxy.url, center.token)
        agent.heartbeat()
        good = stored(agent)
        proxy.drop_bundle = True
        for i in range(3):
            agent.outbox.put(vote(i))
            agent.heartbeat()                                 # heartbeat fine, bundle fetch dropped
            assert agent.send_one_batch()
        assert agent.outbox.counts()["pending"] == 0
        assert agent.state != BACKING_OFF and agent.last_error is None and agent.backoff.failures == 0
        assert agent.bundle.error is None and agent.bundle.refused == 0 and stored(agent) == good
        assert len(center.records()) == 3


def test_a_center_that_is_down_costs_one_timeout_not_two(make_agent):
    agent = make_agent("http://127.0.0.1:9", "t")              # nothing listens
    calls = []
    agent.sender.get_bundle = lambda etag: calls.append(etag)
    agent.heartbeat()
    assert calls == []                                         # no bundle asked of a center that did not answer


def test_a_damaged_stored_bundle_is_reported_and_replaced_by_the_next_good_one(center, make_agent, tmp_path):
    agent = make_agent(center.url, center.token)
    agent.heartbeat()
    path = agent.bundle.tablet.bundle_path
    path.write_bytes(path.read_bytes()[:-20])                  # cut (a disk error; not the agent's write)
    again = make_agent(center.url, center.token)               # the agent starts again on it
    assert again.bundle.current is None and "stored bundle" in again.bundle.error
    again.heartbeat()
    assert again.bundle.error is None and parse_bundle(path.read_bytes(), hall_id="taojiang", window_id="03")


# ------------------------------------------------------------ the real agent, calendar import

def wait_for(what, check, timeout: float = 60.0, agent=None):
    deadline_at = time.monotonic() + timeout
    while time.monotonic() < deadline_at:
        value = check()
        if value:
            return value
        if agent is not None:
            agent.check()
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}" + (f"\n{agent_log(agent.config)}" if agent else ""))


def test_a_holiday_imported_on_the_center_reaches_the_tablet_s_calendar(center, tmp_path):
    from kiosk.bundlewatch import BundleWatch
    from kiosk.config import load_kiosk_config
    from tests.support.tablet_toml import MINIMAL
    kiosk_tables = "\n".join(['[queue]', 'source = "mqtt"', '[queue.mqtt]', 'host = "127.0.0.1"', ""])
    assert MINIMAL["queue"]["source"] == "mqtt"
    config = write_tablet_config(tmp_path / "tablet", center.url, center.token,
                                 agent={"heartbeat_interval": 1.0}, extra=kiosk_tables)
    bundle_file = tmp_path / "tablet" / "bundle.json"
    with AgentProcess(config) as agent:
        first = wait_for("the first bundle", lambda: bundle_file.exists() and bundle_file.read_bytes(), agent=agent)
        assert parse_bundle(first, hall_id="taojiang", window_id="03").holidays == {}

        done = subprocess.run([sys.executable, "-m", "center.cli", "calendar", "import", str(HYPOTHETICAL_2027),
                               "--config", str(center.config_path), "--yes"],
                              cwd=REPO, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr

        def with_2027():
            raw = bundle_file.read_bytes()
            return 2027 in (parse_bundle(raw, hall_id="taojiang", window_id="03").holidays or {}) and raw
        raw = wait_for("2027 in the tablet's bundle", with_2027, agent=agent)
        version = json.loads(raw)["version"]
        beat = wait_for("the heartbeat of the new bundle",
                        lambda: (b := beat_of(center)) and (b.get("bundle") or {}).get("version") == version and b)
        assert beat["bundle"]["error"] is None
        if "2027" in beat["calendar"]:                         # reported for the current year, and from October the next
            assert beat["calendar"]["2027"] == OVERRIDE

    # the kiosk on that tablet computes its deadlines with the imported 2027
    kiosk = BundleWatch(load_kiosk_config(config)).initial()
    assert kiosk.bundle.version == version
    cal = kiosk.flow.calendar
    assert cal.year_source(2027) == OVERRIDE
    voted = datetime(2027, 2, 4, 10, 0, tzinfo=DEFAULT_TZ)      # Thursday before 春节 (02-05..02-12 off)
    due = deadline(voted, HANDLING_WORKDAYS, closing=kiosk.flow.closing, calendar=cal)
    assert due.due_at.date() == date(2027, 2, 16) and due.verified       # Mon 15th, Tue 16th
    estimate = deadline(voted, HANDLING_WORKDAYS, calendar=kiosk.tablet.calendar)
    assert estimate.due_at.date() == date(2027, 2, 10) and not estimate.verified   # what it was before
    # and the center's own deadline agrees, without a restart
    from center.config import load_config as center_config
    from center.deadlines import Deadlines
    assert Deadlines(holiday_file=center_config(center.config_path).holiday_file).handling(voted).due_at == due.due_at
