"""The tablet's outbox holds phone numbers: its files are 0600 and its
folders 0700 (kiosk and agent run as one user); files an older version
made 0644 lose the "other" bits at start-up."""
import os

import pytest

from outbox.store import Outbox
from tests.support.filemodes import mode, usual_umask
from tests.support.outbox_records import vote

DEVICE = "tab-03"


@pytest.fixture(autouse=True)
def _umask():
    with usual_umask():
        yield


def files_of(folder):
    return {str(p.relative_to(folder)): mode(p) for p in folder.rglob("*")
            if p.is_file() and not p.is_symlink()}


def test_pending_archive_and_quarantine_files_are_0600(tmp_path):
    folder = tmp_path / "outbox"
    box = Outbox(folder, DEVICE)
    try:
        bad = box.put(vote(1, bad=True, contact_phone="13812345678"))
        kept = box.put(vote(2))
        refused = box.put(vote(3))
        assert mode(folder / "pending" / f"{bad['id']}.json") == 0o600
        box.acknowledge([kept["id"]])
        box.quarantine(refused["id"], "rejected: test")
        box.put(vote(4))
    finally:
        box.close()
    found = files_of(folder)
    assert any(n.startswith("archive/") and n.endswith(".json") for n in found)
    assert "quarantine.json" in found and "seq.json" in found and "put.lock" in found
    assert sum(n.startswith("pending/") for n in found) == 2
    assert set(found.values()) == {0o600}, found
    assert {mode(folder), mode(folder / "pending"), mode(folder / "archive")} == {0o700}


def test_an_older_outboxs_readable_files_are_tightened_at_start_up(tmp_path):
    folder = tmp_path / "outbox"
    box = Outbox(folder, DEVICE)
    rec = box.put(vote(1, bad=True))
    box.close()
    pending = folder / "pending" / f"{rec['id']}.json"
    os.chmod(pending, 0o644)
    os.chmod(folder / "seq.json", 0o644)
    Outbox(folder, DEVICE).close()
    assert mode(pending) == 0o640                      # group kept: a service group's choice
    assert mode(folder / "seq.json") & 0o007 == 0
