"""The outbox on a real full disk (a 2 MiB tmpfs): every failure names the
file it could not write, nothing stored is lost, and once there is room
again the same calls succeed with seq still contiguous."""
import os

import pytest

from hallcore.chain import Head, verify_chain
from hallcore.fsutil import disk_full_path
from outbox.store import Outbox, OutboxError
from tests.support.outbox_records import vote

DEVICE = "tab-03"


def named_file(error: OutboxError, folder) -> str:
    """The file a full-disk OutboxError names: inside the outbox, and in its message."""
    path = disk_full_path(error)
    assert path is not None and path.startswith(f"{folder}/") and not path.endswith(".tmp")
    assert path in str(error) and "No space left on device" in str(error)
    return path


def temp_files(folder) -> list[str]:
    return [n for _, _, names in os.walk(folder) for n in names if n.endswith(".tmp")]


def test_opening_a_new_outbox_on_a_full_disk_names_the_file_it_could_not_write(small_disk):
    folder = small_disk.path / "outbox"
    small_disk.fill()
    with pytest.raises(OutboxError) as e:
        Outbox(folder, DEVICE)
    assert named_file(e.value, folder) == str(folder / "seq.json")
    small_disk.free()
    with Outbox(folder, DEVICE) as box:       # room again: it opens
        assert box.counts()["pending"] == 0


def test_a_put_on_a_full_disk_fails_and_its_retry_takes_the_same_seq(small_disk):
    folder = small_disk.path / "outbox"
    with Outbox(folder, DEVICE) as box:
        stored = [box.put(vote(i)) for i in range(3)]
        small_disk.fill()
        late = vote(3)
        for _ in range(2):                     # the kiosk retries while the disk stays full
            with pytest.raises(OutboxError) as e:
                box.put(late)
            assert named_file(e.value, folder) == str(folder / "pending" / f"{late['id']}.json")
        assert box.counts()["pending"] == 3 and temp_files(folder) == []
        small_disk.free()
        assert box.put(late)["seq"] == 4       # no gap for the center to report as lost
    with Outbox(folder, DEVICE) as again:
        assert [r["seq"] for r in sorted(again.pending(), key=lambda r: r["seq"])] == [1, 2, 3, 4]
        assert {r["id"] for r in again.pending()} == {r["id"] for r in stored} | {late["id"]}
        assert again.put(vote(4))["seq"] == 5
        head = again.chain_head()           # the failed puts left no mark on the chain either
        assert verify_chain(again.pending(), {DEVICE: Head(head.seq, head.hash, 0)}) == []


@pytest.mark.parametrize("move", ["acknowledge", "quarantine"])
def test_moving_records_out_of_pending_on_a_full_disk_keeps_them_pending(small_disk, move):
    folder = small_disk.path / "outbox"
    with Outbox(folder, DEVICE) as box:
        ids = [box.put(vote(i))["id"] for i in range(3)]

        def do():
            if move == "acknowledge":
                box.acknowledge(ids)
            else:
                for i in ids:
                    box.quarantine(i, "seq gap")

        small_disk.fill()
        with pytest.raises(OutboxError) as e:
            do()
        named_file(e.value, folder)
        assert box.counts() == {"pending": 3, "quarantined": 0, "archived": 0}
        small_disk.free()
        do()
        assert box.counts()["pending"] == 0
        assert box.counts()["archived" if move == "acknowledge" else "quarantined"] == 3
    with Outbox(folder, DEVICE) as again:
        assert again.counts()["pending"] == 0 and again.put(vote(3))["seq"] == 4
