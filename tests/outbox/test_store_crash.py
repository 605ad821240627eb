"""The outbox survives SIGKILL at random moments (DESIGN.md section 5).

Child processes (tests/support/outbox_child.py: writer, acker) use the
real Outbox on a shared folder; they print an id only after the call
returned. Every printed id must be stored exactly once, no seq may repeat,
the store must open, and the stored records must form one intact chain
ending at the chain head the outbox reports (no fork, no broken link).
"""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from hallcore.chain import Head, chain_hash, verify_chain
from outbox.store import Outbox
from tests.support.outbox_records import vote
from tests.support.paths import SUPPORT

DEVICE = "tab-03"
KILLS = 50
TIME_LIMIT = 90.0     # seconds: a hang fails the test instead of blocking CI


def start(role: str, folder: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(SUPPORT / "outbox_child.py"), role, str(folder), DEVICE],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def kill(proc: subprocess.Popen) -> tuple[list[str], str]:
    """SIGKILL `proc`; its complete output lines and its stderr."""
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGKILL)
    out, err = proc.communicate(timeout=10)
    lines = out.split("\n")[:-1]     # a line without its newline was cut by the kill
    return lines, err


def died_of_kill(proc: subprocess.Popen, err: str) -> None:
    assert proc.returncode == -signal.SIGKILL, f"child failed on its own:\n{err}"


def stored_everywhere(folder: Path) -> tuple[Counter, dict[str, int], Outbox]:
    """Open the store (must succeed) and count each id over pending, archive and quarantine."""
    box = Outbox(folder, DEVICE)
    entries = ([("pending", r) for r in box.pending()]
               + [("archive", e["record"]) for e in box.archive.entries()]
               + [("quarantine", q["record"]) for q in box.quarantined()])
    ids = Counter(r["id"] for _, r in entries)
    seqs = Counter(r["seq"] for _, r in entries)
    assert not [s for s, n in seqs.items() if n > 1], "a seq was used twice"
    check_chain([r for _, r in entries], box)
    return ids, {r["id"]: r["seq"] for _, r in entries}, box


def check_chain(stored: list[dict], box: Outbox) -> None:
    """Every stored record chained to the one before it (a seq reserved by a
    killed put and never written is skipped by an intact link), the head the
    last record."""
    top = max(stored, key=lambda r: r["seq"])
    head = box.chain_head()
    assert (head.seq, head.hash) == (top["seq"], chain_hash(top))
    assert all(r["schema"] == 2 for r in stored)
    assert verify_chain(stored, {DEVICE: Head(head.seq, head.hash, pending=0)}) == []


def check_puts(printed: dict[str, int], ids: Counter, seq_of: dict[str, int]) -> None:
    assert printed, "the writer never completed a put"
    assert not [i for i, n in ids.items() if n > 1], "a record is stored twice"
    missing = [i for i in printed if ids[i] != 1]
    assert not missing, f"{len(missing)} acknowledged puts are lost"
    assert all(seq_of[i] == s for i, s in printed.items()), "a stored seq differs from the one put() returned"
    assert len(set(printed.values())) == len(printed)


def continues(box: Outbox) -> None:
    """The next put after the kills links to the head."""
    head = box.chain_head()
    nxt = box.put(vote(999, device_id=DEVICE))
    assert (nxt["seq"], nxt["prev_hash"]) == (head.seq + 1, head.hash)
    assert box.chain_head() == Head(nxt["seq"], chain_hash(nxt))


def test_writer_killed_at_random_moments_loses_nothing(tmp_path):
    folder = tmp_path / "outbox"
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"crash test seed {seed}")     # shown by pytest when the test fails
    rng = random.Random(seed)
    printed: dict[str, int] = {}
    deadline = time.monotonic() + TIME_LIMIT
    for _ in range(KILLS):
        assert time.monotonic() < deadline, "crash loop took too long"
        proc = start("writer", folder)
        try:
            time.sleep(rng.uniform(0.05, 0.45))   # sometimes during start-up recovery, mostly mid-put
        finally:
            lines, err = kill(proc)
        died_of_kill(proc, err)
        for line in lines:
            rid, seq = line.split()
            assert rid not in printed
            printed[rid] = int(seq)
    ids, seq_of, box = stored_everywhere(folder)
    try:
        check_puts(printed, ids, seq_of)
        assert box.counts()["pending"] == len(ids)
        continues(box)
    finally:
        box.close()


def test_writer_and_acknowledger_killed_concurrently_lose_nothing(tmp_path):
    folder = tmp_path / "outbox"
    Outbox(folder, DEVICE).close()
    seed = int.from_bytes(os.urandom(4), "big")
    print(f"crash test seed {seed}")     # shown by pytest when the test fails
    rng = random.Random(seed)
    printed: dict[str, int] = {}
    acked: set[str] = set()
    quarantined: set[str] = set()
    procs = {"writer": start("writer", folder),
             "acker": start("acker", folder)}
    deadline = time.monotonic() + TIME_LIMIT
    kills = 0
    try:
        while kills < KILLS:
            assert time.monotonic() < deadline, "crash loop took too long"
            time.sleep(rng.uniform(0.05, 0.35))
            victims = rng.choice([["writer"], ["acker"], ["writer", "acker"]])
            for role in victims:
                proc = procs[role]
                lines, err = kill(proc)
                died_of_kill(proc, err)
                kills += 1
                for line in lines:
                    a, b = line.split()
                    if a == "acked":
                        acked.add(b)
                    elif a == "quarantined":
                        quarantined.add(b)
                    else:
                        printed[a] = int(b)
                procs[role] = start(role, folder)
    finally:
        for proc in procs.values():
            lines, _ = kill(proc)
            for line in lines:
                a, b = line.split()
                if a not in ("acked", "quarantined"):
                    printed[a] = int(b)
    ids, seq_of, box = stored_everywhere(folder)
    try:
        check_puts(printed, ids, seq_of)
        archived = {e["record"]["id"] for e in box.archive.entries()}
        in_quarantine = {q["record"]["id"] for q in box.quarantined()}
        assert acked, "the acknowledger never completed an acknowledge"
        assert acked <= archived
        assert quarantined <= in_quarantine
        assert not {r["id"] for r in box.pending()} & (acked | quarantined)
        assert box.counts() == {"pending": len(ids) - len(archived) - len(in_quarantine),
                                "quarantined": len(in_quarantine), "archived": len(archived)}
        continues(box)
    finally:
        box.close()
