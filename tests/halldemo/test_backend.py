"""make demo's center and agent (halldemo/backend.py), on a copy of config/demo.toml."""
from __future__ import annotations

import re
import shutil
from pathlib import Path

import requests
from sqlalchemy import create_engine, select

from halldemo.backend import start_backend
from outbox.store import Outbox
from tests.support.center import free_port
from tests.support.outbox_records import vote
from tests.support.waiting import wait_for
from tests.support.paths import CONFIG



def demo_copy(tmp_path: Path, port: int) -> Path:
    shutil.copy(CONFIG / "holidays.toml", tmp_path)
    text = (CONFIG / "demo.toml").read_text(encoding="utf-8")
    text = text.replace("http://127.0.0.1:18080", f"http://127.0.0.1:{port}")
    text = text.replace("../var/demo", str(tmp_path / "var"))
    text = text.split("[agent.mqtt]")[0]          # no broker in this test
    (tmp_path / "demo.toml").write_text(text, encoding="utf-8")
    return tmp_path / "demo.toml"


def stored_ids(db: Path) -> set[str]:
    from center.db import records
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            return {r[0] for r in conn.execute(select(records.c.id))}
    finally:
        engine.dispose()


def test_backend_enrolls_the_demo_tablet_and_a_bad_review_reaches_the_center(tmp_path):
    cfg = demo_copy(tmp_path, free_port())
    backend = start_backend(cfg)
    try:
        box = Outbox(tmp_path / "var" / "outbox", "demo-01")
        rec = box.put(vote(1, device_id="demo-01", bad=True))
        db = tmp_path / "var" / "center.sqlite3"
        wait_for(lambda: backend.alive() and rec["id"] in stored_ids(db), 30,
                   what="the bad review at the demo center")
        # the README's demo login sees the new case on the open-cases page
        web = requests.Session()
        csrf = re.search(r'name="csrf" value="([^"]+)"', web.get(backend.dashboard + "login", timeout=5).text)
        web.post(backend.dashboard + "login", timeout=5,
                 data={"csrf": csrf.group(1), "name": backend.user, "password": backend.password})
        cases = web.get(backend.dashboard + "cases", timeout=5).text
        assert rec["matter_name"] in cases and "退出" in cases, cases[-1500:]
        box.close()
    finally:
        backend.stop()
    assert not backend.alive()
    # a second start reuses the enrollment and the token
    token = (tmp_path / "var" / "device.token").read_text()
    backend = start_backend(cfg)
    try:
        wait_for(lambda: backend.alive() and "idle" in (tmp_path / "var" / "agent-status.json").read_text(),
                   30, what="the agent to run again")
    finally:
        backend.stop()
    assert (tmp_path / "var" / "device.token").read_text() == token
