"""Benchmark: cost of Outbox.put() as history grows, against a naive TinyDB.

States (built fast through the outbox's own bulk paths, measured through the
public put()):
  empty            a new outbox
  10k pending      10,000 records waiting for the center
  100k archived    100,000 acknowledged records in the archive
  loaded           10,000 pending + 100,000 archived
  naive 10k        one TinyDB file, default JSONStorage, 10,000 records: db.insert()

usage: python bench/outbox.py [--samples N] [--naive-samples N]
The last line printed is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Callable

from tinydb import TinyDB

# `python bench/outbox.py` puts bench/ first on sys.path, where bench/forward.py
# would shadow the agent package: the repository comes first instead.
REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [str(REPO)] + [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]

from outbox.archive import PART_SIZE, Archive  # noqa: E402
from outbox.store import Outbox  # noqa: E402
from outbox.spool import Spool, entry  # noqa: E402
from hallcore.fsutil import atomic_write_json  # noqa: E402
from hallcore.hallclock import DEFAULT_TZ  # noqa: E402
from hallcore.record import new_record  # noqa: E402

DEVICE = "tab-bench"
T = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)
TEMPLATE = new_record(device_id=DEVICE, region_code="430922", hall_id="taojiang", window_id="03",
                      staff_id="1024", staff_name="李明", ticket="A023", case_no=None,
                      matter_code="M1", matter_name="居民身份证换领", matter_index=1, matter_count=1,
                      scale_size=3, prompted_at=T, rating="satisfied", voted_at=T)


LOADED = "loaded (10k pending + 100k archived)"
STATES = {"empty": "empty", "10k pending": "pending", "100k archived": "archived", LOADED: "loaded"}
FLOOR = "disk floor: one atomic write (fsutil)"


def fresh(seq: int | None = None) -> dict:
    rec = dict(TEMPLATE, id=str(uuid.uuid4()))
    if seq is not None:
        rec["seq"] = seq
    return rec


def add_pending(folder: Path, first_seq: int, n: int) -> None:
    (folder / "pending").mkdir(parents=True, exist_ok=True)
    put_at = datetime.now(DEFAULT_TZ).isoformat()
    Spool(folder / "pending").write_many_unsynced(entry(fresh(s), put_at) for s in range(first_seq, first_seq + n))


def add_archived(folder: Path, first_seq: int, n: int) -> None:
    archive_dir = folder / "archive"
    archive_dir.mkdir(parents=True, exist_ok=True)
    archive = Archive(archive_dir)
    put_at = datetime.now(DEFAULT_TZ).isoformat()
    for k, start in enumerate(range(first_seq, first_seq + n, PART_SIZE)):   # one full part per past day
        day = date(2026, 11, 27) - timedelta(days=k)
        batch = [entry(fresh(s), put_at) for s in range(start, min(start + PART_SIZE, first_seq + n))]
        archive.add(batch, put_at, day)


def measure_interleaved(fns: dict[str, Callable[[], object]], samples: int, warmup: int = 5) -> dict[str, list[float]]:
    """Time each fn `samples` times, round-robin, so disk noise from other
    processes on this machine hits every state alike."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    out: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(samples):
        for name, fn in fns.items():
            t = time.perf_counter()
            fn()
            out[name].append((time.perf_counter() - t) * 1000)
    return out


def p(ms: list[float], q: float) -> float:
    return statistics.quantiles(ms, n=100, method="inclusive")[int(q) - 1]


def open_timed(folder: Path) -> tuple[Outbox, float]:
    t = time.perf_counter()
    box = Outbox(folder, DEVICE)
    return box, time.perf_counter() - t


def naive_db(folder: Path) -> TinyDB:
    db = TinyDB(folder / "naive.json")     # default JSONStorage: rewrites the whole file per insert
    db.insert_multiple(fresh(s) for s in range(1, 10_001))
    return db


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=500, help="puts measured per outbox state")
    ap.add_argument("--naive-samples", type=int, default=30, help="inserts measured on the naive TinyDB")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-outbox-", dir=Path.cwd()) as tmp:
        root = Path(tmp)
        add_pending(root / "pending", 1, 10_000)
        add_archived(root / "archived", 1, 100_000)
        add_archived(root / "loaded", 1, 100_000)
        add_pending(root / "loaded", 200_001, 10_000)
        (root / "floor").mkdir()
        boxes = {name: open_timed(root / folder) for name, folder in STATES.items()}
        fns: dict[str, Callable[[], object]] = {name: (lambda b=b: b.put(fresh())) for name, (b, _) in boxes.items()}
        # The disk's own cost of one durable atomic write of a record, no outbox logic.
        fns[FLOOR] = lambda: atomic_write_json(root / "floor" / f"{uuid.uuid4()}.json", fresh(1))
        try:
            ms = measure_interleaved(fns, args.samples)
        finally:
            for b, _ in boxes.values():
                b.close()
        db = naive_db(root)
        try:
            naive = measure_interleaved({"naive": lambda: db.insert(fresh())}, args.naive_samples, warmup=2)["naive"]
        finally:
            db.close()

    print(f"{'state':<40} {'samples':>7} {'p50 ms':>8} {'p99 ms':>8} {'open s':>7}")
    for name in list(STATES) + [FLOOR]:
        opened = f"{boxes[name][1]:>7.2f}" if name in boxes else f"{'-':>7}"
        print(f"{name:<40} {len(ms[name]):>7} {p(ms[name], 50):>8.2f} {p(ms[name], 99):>8.2f} {opened}")
    print(f"{'naive TinyDB, one file, 10k records':<40} {len(naive):>7} {p(naive, 50):>8.2f} {p(naive, 99):>8.2f} {'-':>7}")
    loaded = ms[LOADED]
    speedup = p(naive, 99) / p(loaded, 99)
    print(f"speed-up at p99, naive 10k / outbox loaded: {speedup:.1f}x "
          f"(targets: loaded p99 <= 10 ms, >= 10x naive)")
    print(json.dumps({
        "put_p50_ms_empty": round(p(ms["empty"], 50), 3),
        "put_p99_ms_empty": round(p(ms["empty"], 99), 3),
        "put_p50_ms_pending_10k": round(p(ms["10k pending"], 50), 3),
        "put_p99_ms_pending_10k": round(p(ms["10k pending"], 99), 3),
        "put_p50_ms_archived_100k": round(p(ms["100k archived"], 50), 3),
        "put_p99_ms_archived_100k": round(p(ms["100k archived"], 99), 3),
        "put_p50_ms_loaded": round(p(loaded, 50), 3),
        "put_p99_ms_loaded": round(p(loaded, 99), 3),
        "open_s_loaded": round(boxes[LOADED][1], 3),
        "disk_floor_p50_ms": round(p(ms[FLOOR], 50), 3),
        "disk_floor_p99_ms": round(p(ms[FLOOR], 99), 3),
        "naive_p50_ms_10k": round(p(naive, 50), 3),
        "naive_p99_ms_10k": round(p(naive, 99), 3),
        "speedup_vs_naive": round(speedup, 1),
    }))


if __name__ == "__main__":
    main()
