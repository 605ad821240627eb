"""TinyDB storage that writes atomically and refuses damaged files (outbox/tinystore.py)."""
import pytest

from outbox.tinystore import AtomicJSONStorage, StoreDamaged, open_db, prev_path, recover


def test_empty_file_is_refused_not_read_as_an_empty_database(tmp_path):
    path = tmp_path / "db.json"
    path.write_bytes(b"")
    with pytest.raises(StoreDamaged, match="empty"):
        AtomicJSONStorage(path).read()
    with pytest.raises(StoreDamaged):
        open_db(path).all()


@pytest.mark.parametrize("raw", [b'{"_default": {"1": {"a"', b"\x00\x01", b"[]", b'{"_default": [1]}',
                                 b'{"_default": {"1": 5}}'])
def test_torn_or_garbage_file_is_refused(tmp_path, raw):
    path = tmp_path / "db.json"
    path.write_bytes(raw)
    with pytest.raises(StoreDamaged) as err:
        AtomicJSONStorage(path).read()
    assert err.value.path == path


def test_missing_file_is_a_new_database(tmp_path):
    assert AtomicJSONStorage(tmp_path / "new.json").read() is None


def test_each_write_keeps_the_previous_generation(tmp_path):
    path = tmp_path / "db.json"
    db = open_db(path)
    db.insert({"n": 1})
    db.insert({"n": 2})
    assert [d["n"] for d in open_db(prev_path(path)).all()] == [1]
    assert [d["n"] for d in db.all()] == [1, 2]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_recover_restores_previous_generation_and_keeps_damaged_bytes(tmp_path):
    path = tmp_path / "db.json"
    db = open_db(path)
    db.insert({"n": 1})
    db.insert({"n": 2})
    path.write_bytes(b'{"_def')
    data, note = recover(path)
    assert note and "db.json" in note and "previous generation" in note
    assert [d["n"] for d in data["_default"].values()] == [1]
    assert [d["n"] for d in open_db(path).all()] == [1]
    assert (tmp_path / "db.json.damaged").read_bytes() == b'{"_def'


def test_recover_leaves_good_file_alone(tmp_path):
    path = tmp_path / "db.json"
    open_db(path).insert({"n": 1})
    data, note = recover(path)
    assert note is None and list(data["_default"].values()) == [{"n": 1}]
    assert recover(tmp_path / "absent.json") == (None, None)


def test_recover_refuses_when_no_generation_is_good(tmp_path):
    path = tmp_path / "db.json"
    open_db(path).insert({"n": 1})
    path.write_bytes(b"")
    with pytest.raises(StoreDamaged, match="no previous generation"):
        recover(path)
    prev_path(path).write_bytes(b"junk")
    with pytest.raises(StoreDamaged, match="damaged too"):
        recover(path)
