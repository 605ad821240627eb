"""Archive parts and quarantine of the outbox (outbox/archive.py)."""
import json
import os
from datetime import date

from outbox.archive import Archive, parts_to_fill
from outbox.spool import entry
from tests.support.outbox_records import vote

DAY = date(2026, 11, 28)


def entries(first_seq: int, n: int) -> list[dict]:
    out = []
    for s in range(first_seq, first_seq + n):
        rec = vote(s)
        rec["seq"] = s
        out.append(entry(rec, "2026-11-28T09:00:00.000+08:00"))
    return out


def test_parts_are_filled_up_to_their_size_then_new_ones_open():
    assert parts_to_fill({}, DAY, 2500) == [
        ("2026-11-28.001.json", 1000), ("2026-11-28.002.json", 1000), ("2026-11-28.003.json", 500)]
    assert parts_to_fill({"2026-11-28.002.json": 990, "2026-11-27.007.json": 10}, DAY, 15) == [
        ("2026-11-28.002.json", 10), ("2026-11-28.003.json", 5)]
    assert parts_to_fill({"2026-11-27.001.json": 3}, DAY, 2) == [("2026-11-28.001.json", 2)]


def test_add_writes_bounded_parts_and_indexes_them(tmp_path):
    archive = Archive(tmp_path, part_size=10)
    where = archive.add(entries(1, 25), "2026-11-28T10:00:00+08:00", DAY)
    assert archive.names() == ["2026-11-28.001.json", "2026-11-28.002.json", "2026-11-28.003.json"]
    assert sorted(set(where.values())) == archive.names()
    assert archive.count() == 25 and archive.max_seq() == 25
    assert all(e["acked_at"] == "2026-11-28T10:00:00+08:00" for e in archive.entries())
    first = next(archive.entries())
    assert archive.find(first["record"]["id"], "2026-11-28.001.json") == first


def test_start_up_uses_the_index_of_an_unchanged_part_without_parsing_it(tmp_path):
    Archive(tmp_path, part_size=10).add(entries(1, 15), "t", DAY)
    idx_path = tmp_path / "2026-11-28.001.idx"
    idx = json.loads(idx_path.read_text())
    idx["seqs"] = {"marker": 999}          # the index alone says so: the part was not read
    idx_path.write_text(json.dumps(idx))
    archive = Archive(tmp_path, part_size=10)
    assert archive.recover_all() == []
    assert archive.max_seq() == 999


def test_start_up_reparses_a_part_that_changed_after_its_index(tmp_path):
    Archive(tmp_path, part_size=10).add(entries(1, 15), "t", DAY)
    os.utime(tmp_path / "2026-11-28.002.json", ns=(1, 1))
    (tmp_path / "2026-11-28.001.idx").write_text("garbage")
    archive = Archive(tmp_path, part_size=10)
    assert archive.recover_all() == []
    assert archive.count() == 15 and archive.max_seq() == 15


def test_other_process_changes_are_seen_on_refresh(tmp_path):
    reader = Archive(tmp_path)
    reader.refresh()
    assert reader.count() == 0
    Archive(tmp_path).add(entries(1, 3), "t", DAY)
    reader.refresh()
    assert reader.count() == 3
