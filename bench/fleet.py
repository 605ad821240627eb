"""Fleet load benchmark (issue 14): 1,000 tablets against two center
instances on one PostgreSQL, with an async HTTP client (aiohttp).

    .venv/bin/python bench/fleet.py [--quick] [--devices 1000] [--rounds 3] [--backlog 1000000]
                                    [--concurrency 64] [--raw-records 20000] [--pg URL]

Two `hall-center serve` processes (each with its alert worker) share one
PostgreSQL database (--pg or HALL_TEST_PG names an admin URL, else a
throwaway cluster is started, as the tests do: tests/support/postgres.py).
The tablets are enrolled with the Center API directly, one window each, and
every request goes to the next instance in turn (round-robin, as a load
balancer would).

live     each tablet, `--rounds` times spread over `--live-s` seconds (at a
         random moment of each slice), sends a heartbeat, fetches its bundle
         (GET /api/v1/bundle with If-None-Match once it has an ETag) and posts
         one vote; at most `--concurrency` requests in flight. `vote_p99_ms`
         is the 99th percentile of the vote POSTs (from sending to the answer). A bundle answered 404 (no bundle
         endpoint on this center yet) counts as `bundle_unavailable`, not as
         an error; once the endpoint exists its 200s and 304s are counted.
drain    `--backlog` records spread over the tablets, as after a
         province-wide outage: every tablet posts its backlog in seq order in
         batches of 100, `--concurrency` batches in flight from many tablets.
         `drain_s` runs until the last is stored (then checked by counting
         the records); `ingest_per_s_postgres` = backlog / drain_s.
raw      psycopg 3 executemany of rows of the same shape, batches of 100
         (bench/ingest.py raw_pg_per_s), before and after the live rounds and
         drain; `raw_pg_per_s` is the mean of the two, as bench/ingest.py
         takes it (the machine's speed drifts within minutes: the best of
         two moments is not the speed of the minutes between them).

`--quick`: 50 tablets, 2 rounds over 5 s, a 20,000-record backlog (a smoke run; its
`drain_1m_s` is the measured drain scaled to 1,000,000 records, and says so:
`drain_1m_s_scaled`). Errors are any other non-2xx answer, a transport
failure that persists after 3 more tries (each a transport failure of a
request, counted as `retried`: as an agent does, it is sent again to the next
instance), or a vote not answered stored/duplicate. The last line is one JSON
object: devices, vote_p99_ms, errors, drain_1m_s, ingest_per_s_postgres,
raw_pg_per_s, ratio_to_raw, and the counts behind them.
"""
from __future__ import annotations

import argparse
import asyncio
import importlib.util
import itertools
import json
import math
import os
import random
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path[:0] = [str(REPO), str(REPO / "tests")]       # the same fixtures the tests use

import aiohttp  # noqa: E402
import orjson  # noqa: E402

from hallcore.hallclock import DEFAULT_TZ  # noqa: E402
from support.center import RunningCenter, free_port, write_config  # noqa: E402
from support.postgres import admin_server, pg_database  # noqa: E402


def _bench_ingest():
    """bench/ingest.py (records and the raw baseline), by path: bench/ is no package."""
    spec = importlib.util.spec_from_file_location("bench_ingest", Path(__file__).with_name("ingest.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


bench_ingest = _bench_ingest()
BATCH = bench_ingest.BATCH
RETRIES = 3            # transport failures of one request tried again
HALL = bench_ingest.HALL


@dataclass(frozen=True)
class Answer:
    """A response read whole (aiohttp's is readable only inside its request's block)."""
    status_code: int
    headers: Mapping[str, str]
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")

    def json(self) -> Any:
        return orjson.loads(self.body)


def p99_ms(seconds: list[float]) -> float:
    """The 99th percentile (nearest rank), in milliseconds."""
    xs = sorted(seconds)
    return 1000 * xs[max(0, math.ceil(0.99 * len(xs)) - 1)] if xs else float("nan")


class Fleet:
    """Tablets talking to the instances round-robin, counting what they get."""

    def __init__(self, urls: list[str], tablets: list[tuple[str, str, str]], concurrency: int,
                 age: timedelta):
        self.urls = urls
        self.turn = itertools.count()
        self.tablets = tablets
        self.votes = {d: bench_ingest.Votes(d, w, age) for d, w, _ in tablets}
        self.tokens = {d: t for d, _, t in tablets}
        self.seq = {d: 0 for d, _, _ in tablets}
        self.etags: dict[str, str] = {}
        self.gate = asyncio.Semaphore(concurrency)
        self.counts: Counter = Counter()
        self.errors: list[str] = []
        self.vote_s: list[float] = []

    def _url(self) -> str:
        return self.urls[next(self.turn) % len(self.urls)]

    def _error(self, what: str) -> None:
        self.counts["errors"] += 1
        if len(self.errors) < 20:
            self.errors.append(what)

    async def _request(self, client: aiohttp.ClientSession, method: str, path: str, device_id: str,
                       timed: list[float] | None = None, **kw) -> Answer | None:
        """One request to the next instance; its time (once it is sent) appended to `timed`."""
        headers = {"Authorization": f"Bearer {self.tokens[device_id]}", **kw.pop("headers", {})}
        async with self.gate:
            for attempt in range(RETRIES + 1):
                t0 = time.perf_counter()
                try:
                    async with client.request(method, self._url() + path, headers=headers, **kw) as r:
                        answer = Answer(r.status, r.headers, await r.read())
                except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError) as e:
                    # as the agent does: a connection the server closed as it was reused, a reset:
                    # try again (a batch is idempotent), on the next instance
                    if attempt == RETRIES:
                        self._error(f"{method} {path}: {type(e).__name__}: {e}")
                        return None
                    self.counts["retried"] += 1
                    continue
                if timed is not None:
                    timed.append(time.perf_counter() - t0)
                return answer
        return None

    def _next_seqs(self, device_id: str, n: int) -> int:
        first = self.seq[device_id] + 1
        self.seq[device_id] += n
        return first

    async def heartbeat(self, client, device_id: str) -> None:
        now = datetime.now(DEFAULT_TZ).isoformat(timespec="seconds")
        r = await self._request(client, "POST", f"/api/v1/devices/{device_id}/heartbeat", device_id, json={
            "pending": 0, "oldest_pending": None, "quarantined": 0, "quarantined_ids": [],
            "last_success": now, "version": "bench", "clock": now, "last_error": None, "clock_problem": None})
        if r is not None:
            self._count("heartbeat", r)

    async def bundle(self, client, device_id: str) -> None:
        etag = self.etags.get(device_id)
        r = await self._request(client, "GET", "/api/v1/bundle", device_id,
                                headers={"If-None-Match": etag} if etag else {})
        if r is None:
            return
        if r.status_code == 404:
            self.counts["bundle_unavailable"] += 1        # this center has no bundle endpoint (yet)
        elif r.status_code == 304:
            self.counts["bundle_not_modified"] += 1
        elif r.status_code == 200:
            self.counts["bundle_fetched"] += 1
            if r.headers.get("etag"):
                self.etags[device_id] = r.headers["etag"]
        else:
            self._error(f"GET /api/v1/bundle: {r.status_code} {r.text[:200]}")

    def votes_body(self, device_id: str, n: int) -> bytes:
        """The device's next `n` records as the body of POST /api/v1/votes."""
        return self.votes[device_id].body(self._next_seqs(device_id, n), n)

    async def post_votes(self, client, device_id: str, n: int, timed: bool = False,
                         body: bytes | None = None) -> None:
        body = body or self.votes_body(device_id, n)
        r = await self._request(client, "POST", "/api/v1/votes", device_id, self.vote_s if timed else None,
                                data=body, headers={"Content-Type": "application/json"})
        if r is None:
            return
        if r.status_code != 200:
            self._error(f"POST /api/v1/votes: {r.status_code} {r.text[:200]}")
            return
        statuses = Counter(x["status"] for x in r.json()["results"])
        self.counts["records_posted"] += n
        self.counts["records_stored"] += statuses["stored"]
        if statuses["rejected"]:
            self._error(f"POST /api/v1/votes: {statuses['rejected']} rejected: {r.text[:300]}")

    def _count(self, what: str, r: Answer) -> None:
        if 200 <= r.status_code < 300:
            self.counts[f"{what}_ok"] += 1
        else:
            self._error(f"{what}: {r.status_code} {r.text[:200]}")

    async def warm_up(self, client) -> None:
        """Not counted: each instance's first requests open its connection pool and fill its caches."""
        d = self.tablets[0][0]
        for _ in range(2):
            await asyncio.gather(*(self.heartbeat(client, d) for _ in range(2 * len(self.urls))))
            for _ in self.urls:
                await self.post_votes(client, d, 1)
        self.counts.clear()

    async def live(self, client, rounds: int, live_s: float) -> float:
        """Every tablet `rounds` times (round r at a random moment of the r-th slice of `live_s`
        seconds): heartbeat, bundle, one vote."""
        t0 = time.perf_counter()

        async def tablet(device_id: str) -> None:
            for r in range(rounds):
                at = t0 + (r + random.random()) * live_s / rounds
                await asyncio.sleep(max(0.0, at - time.perf_counter()))
                await self.heartbeat(client, device_id)
                await self.bundle(client, device_id)
                await self.post_votes(client, device_id, 1, timed=True)
        await asyncio.gather(*(tablet(d) for d, _, _ in self.tablets))
        return time.perf_counter() - t0

    def backlog(self, per_device: int) -> dict[str, list[tuple[int, bytes]]]:
        """Each tablet's next `per_device` records as bodies of BATCH: made
        before the drain's clock starts, as an agent's outbox holds its
        records already (1,000,000 records are about 720 MB); made during the
        drain they took a tenth of the machine from the center."""
        sizes = [min(BATCH, per_device - k) for k in range(0, per_device, BATCH)]
        return {d: [(n, self.votes_body(d, n)) for n in sizes] for d, _, _ in self.tablets}

    async def drain(self, client, backlog: dict[str, list[tuple[int, bytes]]]) -> float:
        """Each tablet posts its backlog in seq order, the tablets in a random order."""
        async def agent(device_id: str) -> None:
            for n, body in backlog.pop(device_id):
                await self.post_votes(client, device_id, n, body=body)
        order = [d for d, _, _ in self.tablets]
        random.shuffle(order)
        t0 = time.perf_counter()
        await asyncio.gather(*(agent(d) for d in order))
        return time.perf_counter() - t0


def session(concurrency: int) -> aiohttp.ClientSession:
    """The fleet's HTTP client: aiohttp, not httpx. On this 2-core machine the
    client shares the CPU with the center, and httpx spent 11 ms of it per
    72 KB batch (a third of the machine in the drain), aiohttp 0.2 ms."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency),
                                 timeout=aiohttp.ClientTimeout(total=300))


async def run_fleet(urls, tablets, rounds, live_s, backlog, concurrency) -> dict:
    # the backlog waited out an outage of two hours: its bad reviews' cases are not overdue yet
    fleet = Fleet(urls, tablets, concurrency, timedelta(hours=2))
    async with session(concurrency) as client:
        await fleet.warm_up(client)
        live_s = await fleet.live(client, rounds, live_s)
    stored_live = fleet.counts["records_stored"]
    per_device = backlog // len(tablets)
    bodies = fleet.backlog(per_device)
    # new connections, as agents reconnect after an outage (the live ones sat idle while the
    # bodies were made, and the servers closed them)
    async with session(concurrency) as client:
        drain_s = await fleet.drain(client, bodies)
    return {"fleet": fleet, "live_s": live_s, "drain_s": drain_s, "drained": per_device * len(tablets),
            "stored_live": stored_live}


def enroll(config_path: Path, n: int) -> list[tuple[str, str, str]]:
    """n tablets, each at a window of its own (so each writes rollup rows of its own, as in a hall)."""
    from center.config import load_config
    from center.service import Center
    c = Center(load_config(config_path))
    try:
        c.migrate()
        out = []
        for i in range(n):
            device_id, window_id = f"tab-{i + 1:04d}", f"w{i + 1:04d}"
            out.append((device_id, window_id, c.add_device(device_id, HALL, window_id)))
        return out
    finally:
        c.engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="50 tablets, 2 rounds, a 20,000-record backlog")
    ap.add_argument("--devices", type=int, help="tablets (default 1000; --quick 50)")
    ap.add_argument("--rounds", type=int, help="live rounds per tablet (default 3; --quick 2)")
    ap.add_argument("--live-s", type=float, help="seconds the live rounds are spread over "
                    "(default 30; --quick 5)")
    ap.add_argument("--backlog", type=int, help="records drained (default 1,000,000; --quick 20,000)")
    ap.add_argument("--concurrency", type=int, default=64, help="requests in flight")
    ap.add_argument("--raw-records", type=int, help="rows per raw measurement (default 20,000; --quick 5,000)")
    ap.add_argument("--instances", type=int, default=2)
    ap.add_argument("--pg", metavar="URL", help="admin URL of a PostgreSQL server "
                    "(default: HALL_TEST_PG, else a throwaway cluster)")
    args = ap.parse_args()
    devices = args.devices or (50 if args.quick else 1000)
    rounds = args.rounds or (2 if args.quick else 3)
    backlog = args.backlog or (20_000 if args.quick else 1_000_000)
    live_s = args.live_s or (5.0 if args.quick else 30.0)
    raw_n = args.raw_records or (5_000 if args.quick else 20_000)
    random.seed(14)
    with tempfile.TemporaryDirectory(prefix="hall-bench-fleet-") as tmp, admin_server(args.pg) as admin, \
            pg_database(admin) as url:
        folder = Path(tmp)
        config = write_config(folder, url)
        t0 = time.perf_counter()
        tablets = enroll(config, devices)
        print(f"fleet: {devices:,} tablets enrolled in {time.perf_counter() - t0:.1f} s; "
              f"{args.instances} instances on {admin}; load {os.getloadavg()[0]:.2f}")
        servers = [RunningCenter(config, url, free_port(), tablets[0][0], tablets[0][2], folder / f"center{i}.log")
                   for i in range(args.instances)]
        raws = [bench_ingest.raw_pg_per_s(url, raw_n)]
        try:
            for s in servers:
                s.start(timeout=60)
            out = asyncio.run(run_fleet([s.url for s in servers], tablets, rounds, live_s, backlog,
                                        args.concurrency))
            stored = servers[0].scalar("SELECT count(*) FROM records")
        finally:
            for s in servers:
                s.stop()
        server_errors = [line for s in servers for line in s.log_path.read_text(errors="replace").splitlines()
                         if "ERROR" in line or "Traceback" in line]
        raws.append(bench_ingest.raw_pg_per_s(url, raw_n))
    fleet: Fleet = out["fleet"]
    c = fleet.counts
    expected = out["drained"] + devices * rounds + 2 * len(servers)
    if stored != expected:
        fleet._error(f"{stored} records stored, {expected} posted")
    rate = out["drained"] / out["drain_s"]
    raw = sum(raws) / len(raws)
    drain_1m = out["drain_s"] * 1_000_000 / out["drained"]
    votes_ms = sorted(1000 * x for x in fleet.vote_s)
    print(f"live: {devices * rounds:,} heartbeats, bundle fetches and votes in {out['live_s']:.1f} s "
          f"(vote ms: median {votes_ms[len(votes_ms) // 2]:.0f}, max {votes_ms[-1]:.0f}): "
          f"heartbeats ok {c['heartbeat_ok']:,}, bundle fetched {c['bundle_fetched']:,} / not modified "
          f"{c['bundle_not_modified']:,} / unavailable {c['bundle_unavailable']:,}")
    print(f"drain: {out['drained']:,} backlogged records from {devices:,} tablets in {out['drain_s']:.1f} s "
          f"({rate:,.0f}/s); raw psycopg {', '.join(f'{r:,.0f}' for r in raws)}/s; "
          f"load {os.getloadavg()[0]:.2f}")
    for e in fleet.errors[:5]:
        print(f"  error: {e}")
    print(f"servers: {len(server_errors)} error lines in their logs; requests retried {c['retried']:,}")
    for line in server_errors[:5]:
        print(f"  {line[:300]}")
    result = {"devices": devices, "instances": args.instances, "vote_p99_ms": round(p99_ms(fleet.vote_s), 1),
              "errors": c["errors"], "drain_1m_s": round(drain_1m, 1),
              "drain_1m_s_scaled": out["drained"] != 1_000_000, "drained": out["drained"],
              "drain_s": round(out["drain_s"], 1), "ingest_per_s_postgres": round(rate, 1),
              "raw_pg_per_s": round(raw, 1), "ratio_to_raw": round(rate / raw, 3),
              "retried": c["retried"], "server_error_lines": len(server_errors), "heartbeats": c["heartbeat_ok"], "bundle_fetched": c["bundle_fetched"],
              "bundle_not_modified": c["bundle_not_modified"], "bundle_unavailable": c["bundle_unavailable"],
              "records_stored": stored}
    print(f"{'metric':<24}{'value':>14}{'target':>12}")
    for k, target in (("devices", ""), ("vote_p99_ms", ""), ("errors", "0"), ("drain_1m_s", ""),
                      ("ingest_per_s_postgres", ""), ("raw_pg_per_s", ""), ("ratio_to_raw", ">= 0.40")):
        v = result[k]
        shown = f"{v:,.3f}" if k == "ratio_to_raw" else f"{v:,}"
        print(f"{k:<24}{shown:>14}{target:>12}")
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
