"""The durable outbox (outbox/store.py): order, moves, idempotency, seq, bad
records, and damaged files found at start-up."""
from __future__ import annotations

import json
import os
from datetime import datetime

import pytest

from outbox.store import Outbox, OutboxError
from hallcore.hallclock import DEFAULT_TZ
from hallcore.record import RecordError
from tests.support.outbox_records import vote

DEVICE = "tab-03"


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "outbox"


@pytest.fixture
def box(folder):
    ob = Outbox(folder, DEVICE)
    yield ob
    ob.close()


def reopen(ob: Outbox) -> Outbox:
    ob.close()
    return Outbox(ob.folder, DEVICE)


# ---------------------------------------------------------------- put and order

def test_put_assigns_consecutive_seq_and_device(box):
    rec = vote(0)
    del rec["device_id"]
    stored = [box.put(rec)] + [box.put(vote(i)) for i in range(1, 4)]
    assert [r["seq"] for r in stored] == [1, 2, 3, 4]
    assert stored[0]["device_id"] == DEVICE
    assert "seq" not in rec   # the caller's dict is not changed


def test_pending_lists_bad_reviews_first_then_oldest(box):
    seqs = {}
    for i in range(6):
        seqs[box.put(vote(i, bad=i in (2, 5)))["id"]] = i
    order = [seqs[r["id"]] for r in box.pending()]
    assert order == [2, 5, 0, 1, 3, 4]
    assert [seqs[r["id"]] for r in box.pending(limit=3)] == [2, 5, 0]


def test_put_is_idempotent_by_id_while_pending_archived_or_quarantined(box):
    a, b, c = (box.put(vote(i)) for i in range(3))
    box.acknowledge([b["id"]])
    box.quarantine(c["id"], "matter code unknown")
    for r in (a, b, c):
        again = box.put(dict(r, seq=None))
        assert again == r
    assert box.put(vote(9))["seq"] == 4
    assert box.counts() == {"pending": 2, "quarantined": 1, "archived": 1}


def test_seq_persists_across_reopen_even_when_everything_was_acknowledged(box):
    ids = [box.put(vote(i))["id"] for i in range(3)]
    box.acknowledge(ids)
    box = reopen(box)
    assert box.put(vote(7))["seq"] == 4
    box.close()


def test_seq_is_not_reused_when_archive_lost_its_last_write(box):
    """seq.json keeps a floor: a damaged archive part never lets a seq come back."""
    first = box.put(vote(0))
    box.acknowledge([first["id"]])
    second = box.put(vote(1))
    box.acknowledge([second["id"]])
    part = next((box.folder / "archive").glob("*.json"))
    box.close()
    part.write_bytes(part.read_bytes()[:40])          # torn: loses record 2, prev has record 1
    box = Outbox(box.folder, DEVICE)
    assert any("previous generation" in n for n in box.recovered)
    assert box.put(vote(2))["seq"] == 3
    box.close()


def test_bad_record_is_rejected_naming_its_field_and_nothing_is_written(box):
    rec = vote(0)
    rec["rating_label"] = "很好"
    rec["region_code"] = "43"
    with pytest.raises(RecordError) as err:
        box.put(rec)
    assert set(err.value.fields) == {"rating_label", "region_code"}
    assert "region_code" in str(err.value)
    assert box.counts() == {"pending": 0, "quarantined": 0, "archived": 0}
    assert os.listdir(box.folder / "pending") == []
    assert box.put(vote(1))["seq"] == 1   # the rejected record did not use a seq


@pytest.mark.parametrize("field,value", [
    ("id", "not-a-uuid"), ("scale", 4), ("prompted_at", "yesterday"), ("ticket", ""),
    ("channel", "web"), ("reasons", ["拖拉推诿"]), ("surprise", 1),
])
def test_each_bad_field_is_named_and_nothing_is_written(box, field, value):
    rec = vote(0)
    rec[field] = value
    with pytest.raises(RecordError) as err:
        box.put(rec)
    assert field in err.value.fields
    assert box.counts() == {"pending": 0, "quarantined": 0, "archived": 0}
    assert os.listdir(box.folder / "pending") == []


def test_non_record_is_rejected(box):
    with pytest.raises(RecordError):
        box.put({"id": "x"})
    with pytest.raises(RecordError) as err:
        box.put(None)
    assert err.value.fields == ["record"]
    assert box.counts()["pending"] == 0


def test_record_of_another_device_is_rejected(box):
    with pytest.raises(RecordError) as err:
        box.put(vote(0, device_id="tab-99"))
    assert err.value.fields == ["device_id"]


def test_opening_a_folder_of_another_device_is_refused(box):
    box.put(vote(0))
    box.close()
    with pytest.raises(OutboxError, match="tab-03"):
        Outbox(box.folder, "tab-99")


# ---------------------------------------------------------------- moves and counts

def test_acknowledge_moves_to_archive_and_ignores_unknown_ids(box):
    recs = [box.put(vote(i)) for i in range(4)]
    assert box.acknowledge([recs[0]["id"], recs[2]["id"], "no-such-id", recs[0]["id"]]) == 2
    assert [r["id"] for r in box.pending()] == [recs[1]["id"], recs[3]["id"]]
    assert box.acknowledge([recs[0]["id"]]) == 0
    assert box.counts() == {"pending": 2, "quarantined": 0, "archived": 2}
    archived = {e["record"]["id"]: e for e in box.archive.entries()}
    assert set(archived) == {recs[0]["id"], recs[2]["id"]}
    assert archived[recs[0]["id"]]["record"] == recs[0]
    assert not (box.folder / "pending" / f"{recs[0]['id']}.json").exists()


def test_ids_that_are_not_record_ids_never_touch_other_files(box):
    rec = box.put(vote(0))
    assert box.acknowledge(["../seq", "../archive/x", "", rec["id"] + "/.."]) == 0
    box.quarantine("../quarantine", "nonsense from the network")
    assert box.counts() == {"pending": 1, "quarantined": 0, "archived": 0}
    assert (box.folder / "seq.json").exists()


def test_closed_outbox_refuses_work_clearly(box):
    box.close()
    with pytest.raises(OutboxError, match="closed"):
        box.put(vote(0))


def test_quarantine_keeps_record_with_reason_and_time(box):
    a, b = box.put(vote(0)), box.put(vote(1))
    box.quarantine(a["id"], "422: window_id unknown to the center")
    box.quarantine("no-such-id", "ignored")
    q = box.quarantined()
    assert len(q) == 1
    assert q[0]["record"] == a and q[0]["reason"] == "422: window_id unknown to the center"
    assert datetime.fromisoformat(q[0]["at"]).utcoffset() is not None
    assert [r["id"] for r in box.pending()] == [b["id"]]
    box = reopen(box)
    assert box.quarantined()[0]["record"] == a
    assert box.counts() == {"pending": 1, "quarantined": 1, "archived": 0}
    box.close()


def test_oldest_pending_at_is_the_earliest_prompted_at(box):
    assert box.oldest_pending_at() is None
    recs = [box.put(vote(i)) for i in (5, 2, 8)]
    assert box.oldest_pending_at() == datetime(2026, 11, 27, 9, 2, tzinfo=DEFAULT_TZ)
    box.acknowledge([recs[1]["id"]])
    assert box.oldest_pending_at() == datetime(2026, 11, 27, 9, 5, tzinfo=DEFAULT_TZ)


def test_last_change_increases_with_every_put_only(box):
    before = box.last_change
    seen = []
    for i in range(5):
        rec = box.put(vote(i))
        seen.append(box.last_change)
    assert before < seen[0] and all(x < y for x, y in zip(seen, seen[1:]))
    box.acknowledge([rec["id"]])
    assert box.last_change == seen[-1]


def test_second_outbox_on_same_folder_sees_puts_and_never_reuses_seq(folder):
    kiosk, agent = Outbox(folder, DEVICE), Outbox(folder, DEVICE)
    try:
        a = kiosk.put(vote(0))
        b = agent.put(vote(1))
        c = kiosk.put(vote(2))
        assert [a["seq"], b["seq"], c["seq"]] == [1, 2, 3]
        assert agent.acknowledge([a["id"], c["id"]]) == 2
        assert kiosk.put(dict(a))["seq"] == 1     # idempotent across processes
        assert kiosk.counts() == {"pending": 1, "quarantined": 0, "archived": 2}
    finally:
        kiosk.close()
        agent.close()


def test_record_moved_by_another_process_is_not_moved_twice(folder):
    kiosk, agent = Outbox(folder, DEVICE), Outbox(folder, DEVICE)
    try:
        rec = kiosk.put(vote(0))
        assert [r["id"] for r in kiosk.pending()] == [rec["id"]]   # now in the kiosk's cache
        assert agent.acknowledge([rec["id"]]) == 1
        kiosk.quarantine(rec["id"], "late rejection")
        assert kiosk.acknowledge([rec["id"]]) == 0
        assert kiosk.counts() == {"pending": 0, "quarantined": 0, "archived": 1}
    finally:
        kiosk.close()
        agent.close()


# ---------------------------------------------------------------- damaged files

@pytest.mark.parametrize("damage", [b"", b'{"_default": {"1": {"record"', b"\x00\xffgarbage"],
                         ids=["empty", "torn", "garbage"])
def test_damaged_pending_file_is_moved_aside_and_reported_others_kept(box, damage):
    recs = [box.put(vote(i)) for i in range(3)]
    box.close()
    victim = box.folder / "pending" / f"{recs[1]['id']}.json"
    victim.write_bytes(damage)
    box = Outbox(box.folder, DEVICE)
    assert len(box.recovered) == 1 and recs[1]["id"] in box.recovered[0]
    assert [r["id"] for r in box.pending()] == [recs[0]["id"], recs[2]["id"]]
    assert (box.folder / "damaged" / victim.name).read_bytes() == damage
    assert box.put(vote(9))["seq"] == 4
    box.close()


@pytest.mark.parametrize("damage", [b"", b'{"_default": {"1": {"rec', b"garbage\n"],
                         ids=["empty", "torn", "garbage"])
def test_damaged_archive_part_is_restored_from_previous_generation(box, damage):
    recs = [box.put(vote(i)) for i in range(4)]
    box.acknowledge([recs[0]["id"], recs[1]["id"]])
    box.acknowledge([recs[2]["id"]])
    part = next((box.folder / "archive").glob("*.json"))
    box.close()
    part.write_bytes(damage)
    box = Outbox(box.folder, DEVICE)
    assert len(box.recovered) == 1 and part.name in box.recovered[0]
    assert {e["record"]["id"] for e in box.archive.entries()} == {recs[0]["id"], recs[1]["id"]}
    assert [r["id"] for r in box.pending()] == [recs[3]["id"]]
    assert part.with_name(part.name + ".damaged").read_bytes() == damage
    box.close()


@pytest.mark.parametrize("damage", [b"", b"{\"_default\": ", b"[1, 2]"], ids=["empty", "torn", "garbage"])
def test_damaged_quarantine_is_restored_from_previous_generation(box, damage):
    recs = [box.put(vote(i)) for i in range(3)]
    box.quarantine(recs[0]["id"], "first")
    box.quarantine(recs[1]["id"], "second")
    box.close()
    (box.folder / "quarantine.json").write_bytes(damage)
    box = Outbox(box.folder, DEVICE)
    assert any("quarantine.json" in n for n in box.recovered)
    assert [q["reason"] for q in box.quarantined()] == ["first"]
    assert [r["id"] for r in box.pending()] == [recs[2]["id"]]
    box.close()


def test_damaged_store_file_without_previous_generation_is_refused_clearly(box):
    rec = box.put(vote(0))
    box.quarantine(rec["id"], "only one write: no previous generation")
    box.close()
    (box.folder / "quarantine.json").write_bytes(b"\x00" * 64)
    with pytest.raises(OutboxError) as err:
        Outbox(box.folder, DEVICE)
    assert "quarantine.json" in str(err.value) and "no previous generation" in str(err.value)


@pytest.mark.parametrize("damage", [b"", b'{"device_id": "tab-03", "seq_fl', b"garbage"],
                         ids=["empty", "torn", "garbage"])
def test_damaged_seq_file_is_rebuilt_from_stored_records(box, damage):
    recs = [box.put(vote(i)) for i in range(5)]
    box.acknowledge([r["id"] for r in recs[3:]])
    box.close()
    (box.folder / "seq.json").write_bytes(damage)
    box = Outbox(box.folder, DEVICE)
    assert any("seq.json" in n for n in box.recovered)
    assert box.put(vote(9))["seq"] == 6
    assert json.loads((box.folder / "seq.json").read_text())["seq_floor"] >= 5
    box.close()


def test_interrupted_acknowledge_is_finished_at_start_up(box):
    """Crash after the archive write, before the spool file was deleted."""
    recs = [box.put(vote(i)) for i in range(2)]
    spool_file = box.folder / "pending" / f"{recs[0]['id']}.json"
    kept = spool_file.read_bytes()
    box.acknowledge([recs[0]["id"]])
    box.close()
    spool_file.write_bytes(kept)
    box = Outbox(box.folder, DEVICE)
    assert [r["id"] for r in box.pending()] == [recs[1]["id"]]
    assert box.counts() == {"pending": 1, "quarantined": 0, "archived": 1}
    assert box.recovered
    box.close()


def test_stray_file_in_pending_is_moved_aside_at_start_up(box):
    rec = box.put(vote(0))
    box.close()
    (box.folder / "pending" / "notes.txt").write_text("hello")
    box = Outbox(box.folder, DEVICE)
    assert (box.folder / "damaged" / "notes.txt").exists() and "notes.txt" in box.recovered[0]
    assert [r["id"] for r in box.pending()] == [rec["id"]]
    box.close()


def test_leftover_temp_files_are_removed_at_start_up(box):
    box.put(vote(0))
    box.close()
    tmp = box.folder / "pending" / ".x.json.4242.tmp"
    tmp.write_bytes(b'{"rec')
    box = Outbox(box.folder, DEVICE)
    assert not tmp.exists() and box.counts()["pending"] == 1
    box.close()


def test_what_start_up_set_aside_is_listed_and_never_overwritten(box):
    """`damaged()` is what `hall-agent status` shows: pending files moved to damaged/
    (their records cannot be sent) and the damaged copies of restored store files."""
    assert box.damaged() == []
    recs = [box.put(vote(i)) for i in range(4)]
    box.quarantine(recs[0]["id"], "first")
    box.quarantine(recs[1]["id"], "second")
    victim = box.folder / "pending" / f"{recs[2]['id']}.json"
    box.close()
    victim.write_bytes(b"torn")
    (box.folder / "quarantine.json").write_bytes(b"garbage")
    box = Outbox(box.folder, DEVICE)
    listed = box.damaged()
    assert sorted(d["file"] for d in listed) == sorted([f"damaged/{victim.name}", "quarantine.json.damaged"])
    assert all(datetime.fromisoformat(d["at"]).tzinfo is not None for d in listed)
    # the same name damaged again (a restored backup, say) is kept beside the first
    box.close()
    victim.write_bytes(b"torn again")
    box = Outbox(box.folder, DEVICE)
    assert (box.folder / "damaged" / victim.name).read_bytes() == b"torn"
    assert (box.folder / "damaged" / f"{victim.name}.1").read_bytes() == b"torn again"
    assert f"damaged/{victim.name}.1" in box.recovered[0]
    assert len(box.damaged()) == 3
    box.close()
