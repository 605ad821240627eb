"""A small real disk that can be filled: a 2 MiB tmpfs (needs root, as CI runs).

    def test_x(small_disk):
        box = Outbox(small_disk.path / "outbox", "tab-03")
        small_disk.fill()          # every block taken: the next write gets ENOSPC
        small_disk.free()          # room again

Mounted under tmp_path, unmounted at teardown even when the test fails.
Never skipped: without root the test fails saying so.
"""
from __future__ import annotations

import errno
import os
import subprocess
from pathlib import Path

import pytest

SIZE = "2m"
CHUNK = 64 * 1024


class SmallDisk:
    def __init__(self, path: Path):
        self.path = path
        self.filler = path / "filler"

    def fill(self) -> int:
        """Take every free block; returns the bytes written. Bounded by the disk's size."""
        written = 0
        fd = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            for _ in range(4 * 1024 * 1024 // CHUNK + 2):     # a 2 MiB disk fills well before this
                try:
                    written += os.write(fd, b"\0" * CHUNK)
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
            else:
                raise AssertionError(f"{self.path} never filled up")
        finally:
            os.close(fd)
        return written

    def free(self) -> None:
        self.filler.unlink(missing_ok=True)


@pytest.fixture
def small_disk(tmp_path):
    if os.geteuid() != 0:
        pytest.fail("the full-disk tests mount a small tmpfs, which needs root: run the suite as root, as CI does")
    path = tmp_path / "small-disk"
    path.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={SIZE},mode=0755", "tmpfs", str(path)],
                   check=True, capture_output=True, timeout=30)
    try:
        yield SmallDisk(path)
    finally:
        done = subprocess.run(["umount", str(path)], capture_output=True, timeout=30)
        if done.returncode != 0:      # a child still has a file open: detach it now, freed when closed
            subprocess.run(["umount", "-l", str(path)], check=True, capture_output=True, timeout=30)
