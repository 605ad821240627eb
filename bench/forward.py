"""Benchmark: bad review from vote to center, and draining a 10,000-record backlog.

Real processes: the center (uvicorn, SQLite) and `hall-agent`, on loopback.

  bad review latency  the kiosk's put() returns (vote on disk) -> the center
                      has stored it (the agent got `stored` back and moved it
                      out of pending). Measured with the agent idle, and while
                      it drains a backlog of ordinary records (bad reviews
                      must overtake it).
  drain 10k           10,000 pending records, agent started -> outbox empty
                      (every record stored at the center).

usage: python bench/forward.py [--bad N] [--backlog N] [--drain N]
Targets (issue 6): p99 <= 2 s, drain <= 60 s. The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# this file is bench/forward.py: its folder must not shadow the `agent` package
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from hallcore.hallclock import hall_now  # noqa: E402
from outbox.store import Outbox  # noqa: E402
from outbox.spool import Spool, entry  # noqa: E402
from support.agent_proc import AgentProcess, write_tablet_config  # noqa: E402
from support.center import start_center  # noqa: E402
from support.outbox_records import vote  # noqa: E402
from support.waiting import wait_for  # noqa: E402

DEVICE = "tab-03"


def percentile(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    k = min(len(xs) - 1, max(0, round(p / 100 * (len(xs) - 1))))
    return xs[k]


def to_center(box: Outbox, record: dict, timeout: float = 30.0) -> float:
    """Seconds from put() returning until the record has left pending (stored at the center)."""
    stored = box.put(record)
    t0 = time.perf_counter()
    path = box.spool.path(stored["id"])
    end = t0 + timeout
    while path.exists():
        if time.perf_counter() > end:
            raise RuntimeError(f"bad review {stored['id']} not at the center after {timeout}s")
        time.sleep(0.002)
    return time.perf_counter() - t0


def bad_review_latency(root: Path, center, n_idle: int, n_backlog: int, backlog: int) -> dict[str, list[float]]:
    rng = random.Random(1)
    cfg = write_tablet_config(root / "tablet-latency", center.url, center.token,
                              center={"read_timeout": 10.0}, agent={"batch_size": 200, "heartbeat_interval": 60.0})
    box = Outbox(cfg.parent / "outbox", DEVICE)
    out: dict[str, list[float]] = {"idle": [], "during backlog": []}
    n = 0
    with AgentProcess(cfg) as agent:
        wait_for(lambda: agent.check() and (cfg.parent / "agent-status.json").exists(), 30,
                   what="the agent to start")
        for _ in range(n_idle):
            time.sleep(rng.uniform(0.05, 0.3))   # votes arrive at random moments of the poll cycle
            out["idle"].append(to_center(box, vote(n, bad=True)))
            n += 1
        for _ in range(n_backlog):
            for _ in range(backlog):            # a burst of ordinary records, then a bad review
                box.put(vote(n))
                n += 1
            out["during backlog"].append(to_center(box, vote(n, bad=True)))
            n += 1
        wait_for(lambda: box.counts()["pending"] == 0, 120, what="the backlog to drain")
    box.close()
    return out


def drain(root: Path, center, n: int) -> float:
    cfg = write_tablet_config(root / "tablet-drain", center.url, center.token, device_id=center.device_id,
                              center={"read_timeout": 30.0}, agent={"batch_size": 500, "heartbeat_interval": 60.0})
    folder = cfg.parent / "outbox"
    Outbox(folder, center.device_id).close()          # a real outbox folder, then 10k pending records
    put_at = hall_now().isoformat()
    Spool(folder / "pending").write_many_unsynced(
        entry(dict(vote(i, device_id=center.device_id), seq=i + 1), put_at) for i in range(n))
    box = Outbox(folder, center.device_id)
    assert box.counts()["pending"] == n
    t0 = time.perf_counter()
    with AgentProcess(cfg) as agent:
        wait_for(lambda: agent.check() and box.counts()["pending"] == 0, 600,
                   what="the 10k backlog to drain")
        took = time.perf_counter() - t0
    box.close()
    return took


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bad", type=int, default=60, help="bad reviews with the agent idle")
    ap.add_argument("--backlog-rounds", type=int, default=20, help="bad reviews behind a burst of ordinary ones")
    ap.add_argument("--backlog", type=int, default=200, help="ordinary records in each burst")
    ap.add_argument("--drain", type=int, default=10_000, help="backlog size for the drain measurement")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-agent-") as tmp:
        root = Path(tmp)
        center = start_center(root / "center", DEVICE)
        try:
            lat = bad_review_latency(root, center, args.bad, args.backlog_rounds, args.backlog)
        finally:
            center.stop()
        center2 = start_center(root / "center-drain", "tab-04")
        try:
            drain_s = drain(root, center2, args.drain)
        finally:
            center2.stop()
    every = lat["idle"] + lat["during backlog"]
    print(f"{'bad review vote -> center':38} {'n':>5} {'p50 s':>8} {'p99 s':>8} {'max s':>8}")
    for name, xs in list(lat.items()) + [("all", every)]:
        print(f"  {name:36} {len(xs):5d} {statistics.median(xs):8.3f} {percentile(xs, 99):8.3f} {max(xs):8.3f}")
    print(f"{'drain ' + format(args.drain, ',') + ' pending records':38} {'':5} {drain_s:8.1f} s "
          f"({args.drain / drain_s:,.0f} records/s)")
    print("targets: p99 <= 2 s, drain <= 60 s")
    print(json.dumps({"bad_review_to_center_p50_s": round(statistics.median(every), 4),
                      "bad_review_to_center_p99_s": round(percentile(every, 99), 4),
                      "drain_10k_s": round(drain_s, 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
