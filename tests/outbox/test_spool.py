"""The pending spool: one file per record (outbox/spool.py)."""
import pytest

from outbox.spool import Spool
from tests.support.outbox_records import vote


@pytest.fixture
def spool(tmp_path):
    (tmp_path / "pending").mkdir()
    return Spool(tmp_path / "pending")


def numbered(seq: int) -> dict:
    rec = vote(seq)
    rec["seq"] = seq
    return rec


def test_write_then_read_from_disk_in_a_fresh_spool(spool):
    rec = numbered(1)
    spool.write(rec, "2026-11-28T09:00:00.000+08:00")
    other = Spool(spool.folder)          # another process: nothing cached
    assert other.read(rec["id"]) == {"record": rec, "put_at": "2026-11-28T09:00:00.000+08:00"}
    assert other.ids() == [rec["id"]]


def test_entries_drop_records_removed_by_another_process(spool):
    a, b = numbered(1), numbered(2)
    spool.write(a, "t")
    spool.write(b, "t")
    assert len(spool.entries()) == 2
    Spool(spool.folder).remove([a["id"]])
    assert [e["record"]["id"] for e in spool.entries()] == [b["id"]]
    assert spool.read(a["id"], still_there=True) is None


def test_ids_that_are_not_uuids_are_never_paths(spool):
    assert spool.read("../../etc/passwd") is None
    with pytest.raises(KeyError):
        spool.path("../seq")


def test_check_all_moves_damaged_and_stray_files_aside(spool, tmp_path):
    good, renamed = numbered(1), numbered(2)
    spool.write(good, "t")
    spool.write(renamed, "t")
    wrong_name = spool.folder / "00000000-0000-4000-8000-000000000000.json"
    spool.path(renamed["id"]).rename(wrong_name)          # content does not match its name
    (spool.folder / "readme.txt").write_text("x")
    notes = Spool(spool.folder).check_all(tmp_path / "damaged")
    assert len(notes) == 2
    assert sorted(p.name for p in (tmp_path / "damaged").iterdir()) == sorted([wrong_name.name, "readme.txt"])
    assert Spool(spool.folder).ids() == [good["id"]]
