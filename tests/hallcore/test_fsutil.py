"""Atomic writes (hallcore/fsutil.py) on a real full disk: the error names the
file, the old content survives, no temp file is left taking room."""
import errno
import json

import pytest

from hallcore.fsutil import atomic_write_bytes, atomic_write_json, disk_full_path, naming


def test_a_write_to_a_full_disk_names_its_file_and_keeps_the_old_one(small_disk):
    target = small_disk.path / "seq.json"
    atomic_write_json(target, {"seq_floor": 1})
    small_disk.fill()
    with pytest.raises(OSError) as e:
        atomic_write_bytes(target, b"x" * 10_000)
    assert e.value.errno == errno.ENOSPC and e.value.filename == str(target)
    assert str(target) in str(e.value) and ".tmp" not in str(e.value)
    assert json.loads(target.read_text()) == {"seq_floor": 1}
    assert sorted(p.name for p in small_disk.path.iterdir()) == ["filler", "seq.json"]   # no temp file
    small_disk.free()
    atomic_write_json(target, {"seq_floor": 2})
    assert json.loads(target.read_text()) == {"seq_floor": 2}


def test_disk_full_is_found_through_the_errors_that_wrap_it():
    full = naming(OSError(errno.ENOSPC, "No space left on device"), "/var/lib/hall/outbox/seq.json")
    try:
        try:
            raise full
        except OSError as e:
            raise RuntimeError("outbox cannot be used") from e
    except RuntimeError as wrapped:
        assert disk_full_path(wrapped) == "/var/lib/hall/outbox/seq.json"
    assert disk_full_path(OSError(errno.EACCES, "Permission denied", "/x")) is None
    assert disk_full_path(None) is None


def test_file_stamp_is_none_for_a_missing_file_and_changes_when_the_file_is_replaced(tmp_path):
    from hallcore.fsutil import atomic_write_bytes, file_stamp
    p = tmp_path / "holidays.toml"
    assert file_stamp(p) is None
    p.write_text("a", encoding="utf-8")
    first = file_stamp(p)
    assert first is not None and file_stamp(p) == first
    atomic_write_bytes(p, b"b")               # replaced by rename: another inode
    assert file_stamp(p) not in (None, first)
