"""The center's files hold citizens' phone numbers: the SQLite database,
its -wal and -shm, and the session secret are created mode 0600; an older
install's 0644 files lose the "other" bits at start. Instances starting
together all read the one session key."""
import os
import threading

import pytest
import requests

from center.api import create_app
from center.ingest import ingest
from center.web.secret import session_secret
from tests.support.center import make_center, make_vote
from tests.support.filemodes import mode, usual_umask


@pytest.fixture(autouse=True)
def _umask():
    with usual_umask():
        yield


def test_database_wal_shm_and_session_key_are_created_0600(tmp_path):
    db = tmp_path / "center.sqlite3"
    c = make_center(f"sqlite:///{db}", tmp_path)
    try:
        create_app(c)
        c.add_device("tab-03", "taojiang", "03")
        ingest(c, "tab-03", [make_vote("tab-03", 1, bad=True)])
        with c.engine.connect():                       # WAL and shared memory are in use
            files = [db, tmp_path / "center.sqlite3-wal", tmp_path / "center.sqlite3-shm",
                     tmp_path / "session.key"]
            assert {f.name: mode(f) for f in files} == {f.name: 0o600 for f in files}
    finally:
        c.engine.dispose()


def test_an_older_installs_world_readable_files_are_tightened(tmp_path):
    db = tmp_path / "center.sqlite3"
    c = make_center(f"sqlite:///{db}", tmp_path)
    create_app(c)
    c.engine.dispose()
    for f in (db, tmp_path / "session.key"):
        os.chmod(f, 0o644)
    c = make_center(f"sqlite:///{db}", tmp_path)
    try:
        create_app(c)
        assert mode(db) == 0o640 and mode(tmp_path / "session.key") == 0o640   # group kept
    finally:
        c.engine.dispose()


def test_the_running_servers_database_files_are_0600(running_center):
    c = running_center
    r = requests.post(c.url + "/api/v1/votes", headers=c.auth, timeout=10,
                      json={"device_id": c.device_id, "votes": [make_vote(c.device_id, 1, bad=True)]})
    assert r.json()["results"][0]["status"] == "stored"
    folder = c.config_path.parent
    found = {p.name: mode(p) for p in folder.iterdir()
             if p.name.startswith("center.sqlite3") or p.name == "session.key"}
    assert set(found) >= {"center.sqlite3", "center.sqlite3-wal", "center.sqlite3-shm", "session.key"}
    assert set(found.values()) == {0o600}


def test_instances_creating_the_session_key_at_once_all_read_the_same_one(tmp_path):
    path = tmp_path / "var" / "session.key"
    start = threading.Barrier(6)
    keys: list[str] = []

    def run():
        start.wait(10)
        keys.append(session_secret(path))

    threads = [threading.Thread(target=run) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(keys) == 6 and len(set(keys)) == 1 and len(keys[0]) == 64
    assert path.read_text() == keys[0] and mode(path) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["session.key"]      # no temp file left
    assert session_secret(path) == keys[0]
