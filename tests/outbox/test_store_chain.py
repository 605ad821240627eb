"""The outbox chains its records (docs/design-integrity.md §1.1): each put
links the record to the device's chain head after assigning its seq, and
the head survives a reopen, a put stopped half way, a damaged chain.json,
a second process putting, and an upgrade from a schema-1 outbox."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

from hallcore.chain import GENESIS, Head, chain_hash, verify_chain
from outbox.memory import MemoryOutbox
from outbox.spool import Spool
from outbox.store import CHAIN_FILE, NO_HEAD, Outbox, OutboxError
from tests.support.outbox_records import vote
from tests.support.paths import REPO

DEVICE = "tab-03"
SCHEMA1 = json.loads((REPO / "tests" / "center" / "data" / "schema1_records.json").read_text(encoding="utf-8"))


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "outbox"


def everything(box: Outbox) -> list[dict]:
    return (box.pending() + [e["record"] for e in box.archive.entries()]
            + [q["record"] for q in box.quarantined()])


def intact(records: list[dict], head: Head) -> bool:
    return verify_chain(records, {DEVICE: Head(head.seq, head.hash, pending=0)}) == []


def saved_head(folder: Path) -> dict:
    return json.loads((folder / CHAIN_FILE).read_text(encoding="utf-8"))


def test_each_put_links_to_the_record_before_it(folder):
    with Outbox(folder, DEVICE) as box:
        assert box.chain_head() == NO_HEAD == Head(0, GENESIS)
        stored = [box.put(vote(i, bad=i == 2)) for i in range(4)]
        assert [(r["schema"], r["seq"]) for r in stored] == [(2, 1), (2, 2), (2, 3), (2, 4)]
        assert stored[0]["prev_hash"] == GENESIS
        assert [r["prev_hash"] for r in stored[1:]] == [chain_hash(r) for r in stored[:-1]]
        assert box.chain_head() == Head(4, chain_hash(stored[-1]))
        assert saved_head(folder) == {"device_id": DEVICE, "seq": 4, "hash": chain_hash(stored[-1])}
        # what is stored is what put returned, and a re-put by id changes nothing
        assert sorted(box.pending(), key=lambda r: r["seq"]) == stored
        assert box.put(dict(stored[1])) == stored[1]
        assert box.chain_head().seq == 4
        assert intact(stored, box.chain_head())


def test_a_prev_hash_given_to_put_is_replaced_like_a_seq(folder):
    with Outbox(folder, DEVICE) as box:
        first = box.put(vote(0))
        forged = dict(vote(1), schema=2, prev_hash="f" * 64, seq=77)
        second = box.put(forged)
        assert (second["seq"], second["prev_hash"]) == (2, chain_hash(first))


@pytest.mark.parametrize("moved", ["pending", "acknowledged", "quarantined"])
def test_the_chain_continues_after_a_reopen(folder, moved):
    box = Outbox(folder, DEVICE)
    stored = [box.put(vote(i)) for i in range(3)]
    if moved == "acknowledged":
        box.acknowledge([r["id"] for r in stored])
    elif moved == "quarantined":
        box.quarantine(stored[-1]["id"], "rejected")
    box.close()
    with Outbox(folder, DEVICE) as box:
        assert box.recovered == []
        nxt = box.put(vote(3))
        assert (nxt["seq"], nxt["prev_hash"]) == (4, chain_hash(stored[-1]))
        assert intact(everything(box), box.chain_head())


def test_a_put_stopped_before_saving_the_head_continues_from_its_record(folder):
    """The crash window: the record is on disk, chain.json still names the one before."""
    with Outbox(folder, DEVICE) as box:
        first = box.put(vote(0))
        before = (folder / CHAIN_FILE).read_bytes()
        second = box.put(vote(1))
    (folder / CHAIN_FILE).write_bytes(before)
    with Outbox(folder, DEVICE) as box:
        assert len(box.recovered) == 1 and "a put stopped before updating it" in box.recovered[0]
        assert box.chain_head() == Head(2, chain_hash(second))
        third = box.put(vote(2))
        assert third["prev_hash"] == chain_hash(second) != chain_hash(first)
        assert intact(everything(box), box.chain_head())


def test_a_head_above_every_stored_record_is_kept(folder):
    """A lost pending file (set aside as damaged) must not rewind the chain: the
    next record names the lost one, and the center reports it missing."""
    with Outbox(folder, DEVICE) as box:
        recs = [box.put(vote(i)) for i in range(3)]
    (folder / "pending" / f"{recs[2]['id']}.json").write_bytes(b"garbage")
    with Outbox(folder, DEVICE) as box:
        assert any(recs[2]["id"] in n for n in box.recovered)
        nxt = box.put(vote(3))
        assert (nxt["seq"], nxt["prev_hash"]) == (4, chain_hash(recs[2]))
        found = verify_chain(everything(box), {DEVICE: Head(4, chain_hash(nxt), 0)})
        assert [(f.kind, f.seq, f.seq_to) for f in found] == [("missing", 3, 3)]


@pytest.mark.parametrize("damage", [b"", b'{"device_id": "tab-03", "se', b'{"device_id": "tab-03", "seq": 2}',
                                    b'{"device_id": "tab-03", "seq": 2, "hash": "XYZ"}'],
                         ids=["empty", "torn", "no-hash", "bad-hash"])
def test_a_damaged_chain_file_is_rebuilt_from_the_stored_records(folder, damage):
    with Outbox(folder, DEVICE) as box:
        recs = [box.put(vote(i)) for i in range(3)]
        box.acknowledge([recs[2]["id"]])           # the last one is in the archive
    (folder / CHAIN_FILE).write_bytes(damage)
    with Outbox(folder, DEVICE) as box:
        assert any(CHAIN_FILE in n and "rebuilt" in n for n in box.recovered)
        assert box.chain_head() == Head(3, chain_hash(recs[2]))
        assert saved_head(folder)["seq"] == 3
        assert box.put(vote(3))["prev_hash"] == chain_hash(recs[2])


def test_a_chain_file_of_another_device_is_refused(folder):
    with Outbox(folder, DEVICE) as box:
        box.put(vote(0))
    data = saved_head(folder)
    (folder / CHAIN_FILE).write_text(json.dumps(dict(data, device_id="tab-99")), encoding="utf-8")
    with pytest.raises(OutboxError) as e:
        Outbox(folder, DEVICE)
    assert "tab-99" in str(e.value) and CHAIN_FILE in str(e.value)


def test_the_head_file_is_a_seq_floor_too(folder):
    with Outbox(folder, DEVICE) as box:
        recs = [box.put(vote(i)) for i in range(3)]
        box.acknowledge([r["id"] for r in recs])
    for part in (folder / "archive").iterdir():
        part.unlink()                               # every record gone, seq.json floor too
    (folder / "seq.json").unlink()
    with Outbox(folder, DEVICE) as box:
        nxt = box.put(vote(3))
        assert (nxt["seq"], nxt["prev_hash"]) == (4, chain_hash(recs[2]))


def test_two_processes_putting_continue_one_chain(folder):
    kiosk, other = Outbox(folder, DEVICE), Outbox(folder, DEVICE)
    try:
        a = kiosk.put(vote(0))
        b = other.put(vote(1))
        c = kiosk.put(vote(2))
        other.acknowledge([c["id"]])
        d = other.put(vote(3))
        assert [r["prev_hash"] for r in (b, c, d)] == [chain_hash(a), chain_hash(b), chain_hash(c)]
        assert kiosk.chain_head() == other.chain_head() == Head(4, chain_hash(d))
        assert intact(everything(kiosk), kiosk.chain_head())
    finally:
        kiosk.close()
        other.close()


def schema1_outbox(folder: Path) -> list[dict]:
    """The folder a schema-1 tablet left: its records pending, seq.json, no chain.json."""
    recs = [dict(r, device_id=DEVICE) for r in SCHEMA1]
    folder.mkdir(parents=True)
    (folder / "pending").mkdir()
    spool = Spool(folder / "pending")
    for r in recs:
        spool.write(r, "2026-11-27T09:00:00.000+08:00")
    (folder / "seq.json").write_text(json.dumps({"device_id": DEVICE, "seq_floor": 0}), encoding="utf-8")
    return recs


@pytest.mark.parametrize("acknowledged", [False, True])
def test_an_upgraded_schema_1_outbox_links_to_its_last_schema_1_record(folder, acknowledged):
    old = schema1_outbox(folder)
    last = max(old, key=lambda r: r["seq"])
    with Outbox(folder, DEVICE) as box:
        if acknowledged:
            box.acknowledge([r["id"] for r in old])
            (folder / CHAIN_FILE).unlink()          # as the first start after the upgrade finds it
    with Outbox(folder, DEVICE) as box:
        assert box.chain_head() == Head(last["seq"], chain_hash(last))
        new = box.put(vote(0, device_id=DEVICE))
        assert (new["schema"], new["seq"], new["prev_hash"]) == (2, last["seq"] + 1, chain_hash(last))
        found = verify_chain(everything(box), {DEVICE: Head(new["seq"], chain_hash(new), 0)})
        assert [(f.kind, f.count) for f in found] == [("unchained", len(old))]


def test_the_memory_and_disk_outboxes_store_the_same_chain(folder):
    recs = [vote(i, bad=i == 1, record_id=str(uuid.UUID(int=i + 1, version=4))) for i in range(3)]
    mem = MemoryOutbox(DEVICE)
    assert mem.chain_head() == NO_HEAD
    from_memory = [mem.put(r) for r in recs]
    with Outbox(folder, DEVICE) as box:
        from_disk = [box.put(r) for r in recs]
        assert from_disk == from_memory
        assert mem.put(recs[0]) == from_memory[0]
        assert box.chain_head() == mem.chain_head()


def test_stored_bodies_hash_the_same_after_a_json_round_trip(folder):
    """What the agent sends is the file's content: the center's copy hashes alike."""
    with Outbox(folder, DEVICE) as box:
        rec = box.put(vote(0, bad=True, comment="窗口无人", contact_phone="13912345678",
                           prompted_at=datetime(2026, 11, 27, 1, 0, tzinfo=timezone.utc)))
        sent = json.loads(json.dumps(box.pending()[0], ensure_ascii=True))
        assert chain_hash(sent) == chain_hash(rec) == box.chain_head().hash


def test_a_record_changed_on_the_tablet_does_not_move_the_head(folder):
    """The head in chain.json is what the tablet put: a pending file edited later
    hashes differently, start-up says so, and the chain goes on from the head
    (the center then finds the edited record altered)."""
    with Outbox(folder, DEVICE) as box:
        recs = [box.put(vote(i)) for i in range(2)]
    path = folder / "pending" / f"{recs[1]['id']}.json"
    entry = json.loads(path.read_text(encoding="utf-8"))
    entry["record"]["staff_name"] = "王五"
    path.write_text(json.dumps(entry, ensure_ascii=False), encoding="utf-8")
    with Outbox(folder, DEVICE) as box:
        assert any("changed on the tablet" in n for n in box.recovered)
        nxt = box.put(vote(2))
        assert nxt["prev_hash"] == chain_hash(recs[1])
        found = verify_chain(everything(box), {DEVICE: Head(3, chain_hash(nxt), 0)})
        assert [(f.kind, f.seq) for f in found] == [("altered", 2)]
