"""Ingest benchmark: the center's records/s on PostgreSQL against raw psycopg
3 writing rows of the same shape, measured in the same run.

    .venv/bin/python bench/ingest.py [--records 20000] [--instances 2] [--clients 8] [--devices 16]
                                     [--rounds 3] [--pg URL] [--profile]

center   `--instances` `hall-center serve` processes (the real uvicorn
         server) on one fresh PostgreSQL database, as issue 14 deploys them;
         `--devices` enrolled tablets post their records in seq order in
         batches of 100 over HTTP, `--clients` at a time (a fleet posts
         many batches at once: enough of them to keep both instances busy),
         each batch to the next instance. `ingest_per_s_postgres_1client`:
         one instance, one client, one batch after the other.
raw      psycopg 3 `executemany` of the same rows (what ingest writes to
         `records`, built beforehand) into a table made `LIKE records
         INCLUDING ALL` (id primary key, its two indexes), `INSERT … ON CONFLICT
         (id) DO NOTHING`, batches of 100, a commit after each, one connection.

Each round measures raw, the center, and raw again; the round's ratio is
the center's rate over the mean of the two raw rates around it, so both are
taken on the same machine in the same minute (a shared machine's speed
drifts by half within minutes: a best raw of one minute over a best center
of another measured the drift). The rates and the ratio reported are the
medians over `--rounds`. Target (issue 14): ratio_to_raw >= 0.40.
`--profile` also runs what POST /api/v1/votes does (parse, model, ingest)
in this process under cProfile, batches of 100, and prints each statement's
time and where the rest goes.

PostgreSQL: the server --pg or HALL_TEST_PG names (an admin URL), else a
throwaway cluster started for the run, as the tests do (tests/support/postgres.py).
The last line is one JSON object: ingest_per_s_postgres,
ingest_per_s_postgres_1client, raw_pg_per_s, ratio_to_raw, round_ratios,
instances, clients, records.
"""
from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit


REPO = Path(__file__).resolve().parents[1]
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path[:0] = [str(REPO), str(REPO / "tests")]       # the same fixtures the tests use

from hallcore.hallclock import DEFAULT_TZ  # noqa: E402
from support.center import RunningCenter, free_port, make_vote, start_center  # noqa: E402
from support.postgres import admin_server, pg_database  # noqa: E402

BATCH = 100
WARM_UP = 6          # batches per tablet before the measured rounds
HALL = "taojiang"
MATTERS = (("M1", "居民身份证换领"), ("M2", "不动产登记"), ("M3", "社保卡补办"))
STAFF = (("1024", "李明"), ("1025", "王芳"))


# ------------------------------------------------------------------ records

def window_of(i: int) -> str:
    """The window of tablet number i (one tablet per window, 20 windows)."""
    return f"{i % 20 + 1:02d}"


def random_id() -> str:
    """A random record id in its one form (what str(uuid.uuid4()) prints), faster than uuid4."""
    h = os.urandom(16).hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:]}"


class Votes:
    """Valid records of one tablet in seq order, made fast from a few
    templates (make_vote) with a fresh id, seq, ticket and case number:
    one in 20 a bad review, the rest satisfied, over three matters and two
    staff. Voted `age` ago (default 5 minutes): the bad reviews' cases are not
    due yet. `body` writes a batch's JSON from the templates' own JSON text,
    so a client posting a million records spends little time making them."""

    SLOTS = ("id", "seq", "ticket", "case_no")

    def __init__(self, device_id: str, window_id: str, age: timedelta = timedelta(minutes=5)):
        self.device_id, self.window_id = device_id, window_id
        at = datetime.now(DEFAULT_TZ).replace(microsecond=0) - age
        self.templates = [make_vote(device_id, 1, bad=(k % 20 == 0), window_id=window_id, at=at,
                                    staff_id=STAFF[k % 2][0], staff_name=STAFF[k % 2][1],
                                    matter=MATTERS[k % 3]) for k in range(60)]
        # each template's JSON as a format string with its slots
        self.formats = [json.dumps(dict(t, **{k: f"@@{k}@@" for k in self.SLOTS}), ensure_ascii=False)
                        .replace("{", "{{").replace("}", "}}").replace('"@@seq@@"', "{seq}")
                        .replace("@@id@@", "{id}").replace("@@ticket@@", "{ticket}").replace("@@case_no@@", "{case_no}")
                        for t in self.templates]

    def record(self, seq: int) -> dict:
        return dict(self.templates[seq % 60], id=random_id(), seq=seq, ticket=f"A{seq % 1000:03d}",
                    case_no=f"CN{seq:08d}")

    def batch(self, first_seq: int, n: int = BATCH) -> list[dict]:
        return [self.record(s) for s in range(first_seq, first_seq + n)]

    def body(self, first_seq: int, n: int = BATCH) -> bytes:
        """The JSON of POST /api/v1/votes for seqs first_seq .. first_seq + n - 1 (as json.dumps of
        {"device_id", "votes": batch(first_seq, n)} would write it, ids apart)."""
        texts = [self.formats[seq % 60].format(id=random_id(), seq=seq, ticket=f"A{seq % 1000:03d}",
                                                case_no=f"CN{seq:08d}") for seq in range(first_seq, first_seq + n)]
        return f'{{"device_id": "{self.device_id}", "votes": [{", ".join(texts)}]}}'.encode()


# ------------------------------------------------------------------ raw psycopg

def raw_pg_per_s(db_url: str, n: int, batch: int = BATCH) -> float:
    """Raw psycopg 3 executemany of `n` rows shaped as ingest writes them."""
    import psycopg

    from center.ingest import record_row
    votes = Votes("raw-01", "01")
    now = datetime.now(timezone.utc)
    rows = [record_row(votes.record(s), "不动产登记", now) for s in range(1, n + 1)]
    cols = list(rows[0])
    params = [tuple(json.dumps(r[c], ensure_ascii=False) if c == "body" else r[c] for c in cols) for r in rows]
    sql = (f"INSERT INTO raw_records ({', '.join(cols)}) VALUES ({', '.join(['%s'] * len(cols))}) "
           f"ON CONFLICT (id) DO NOTHING")
    with psycopg.connect(db_url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_records")
        conn.execute("CREATE TABLE raw_records (LIKE records INCLUDING ALL)")
        conn.commit()
        with conn.cursor() as cur:
            cur.executemany(sql, params[:batch])         # warm-up (not counted): the prepared statement
            conn.execute("TRUNCATE raw_records")
            conn.commit()
            t0 = time.perf_counter()
            for i in range(0, n, batch):
                cur.executemany(sql, params[i:i + batch])
                conn.commit()
            elapsed = time.perf_counter() - t0
        stored = conn.execute("SELECT count(*) FROM raw_records").fetchone()[0]
        conn.execute("DROP TABLE raw_records")
        conn.commit()
    assert stored == n, (stored, n)
    return n / elapsed


# ------------------------------------------------------------------ the center

def enroll(center, n: int, prefix: str = "tab") -> list[tuple[str, str, str]]:
    """Enroll n tablets (one per window, hall taojiang); [(device_id, window_id, token)]."""
    out = []
    for i in range(n):
        device_id, window_id = f"{prefix}-{i + 1:04d}", window_of(i)
        out.append((device_id, window_id, center.add_device(device_id, HALL, window_id)))
    return out


def post_all(urls: list[str], tablets: list[tuple[str, str, str]], per_device: int, clients: int,
             first_seq: int = 1) -> tuple[float, list[str]]:
    """Each tablet posts `per_device` records in seq order, `clients` tablets
    at a time (each thread takes the next tablet), each batch to the next of
    `urls` (the instances, round-robin); returns (seconds, errors).

    The bodies are made beforehand and sent over kept-alive http.client
    connections: on a small machine the client shares the CPU with the
    center, and a heavier client (requests) took a fifth of it."""
    bodies = {d: [Votes(d, w).body(s, min(BATCH, first_seq + per_device - s))
                  for s in range(first_seq, first_seq + per_device, BATCH)] for d, w, _ in tablets}
    queue = list(tablets)
    lock = threading.Lock()
    errors: list[str] = []
    start = threading.Barrier(clients + 1)

    def client(k: int) -> None:
        turn = itertools.count(k)
        conns = [http.client.HTTPConnection(urlsplit(u).hostname, urlsplit(u).port, timeout=120) for u in urls]
        try:
            start.wait(timeout=60)
            while True:
                with lock:
                    if not queue:
                        return
                    device_id, _, token = queue.pop()
                headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
                for body in bodies[device_id]:
                    conn = conns[next(turn) % len(conns)]
                    conn.request("POST", "/api/v1/votes", body=body, headers=headers)
                    r = conn.getresponse()
                    answer = r.read()
                    if r.status != 200 or b'"rejected"' in answer or b'"duplicate"' in answer:
                        with lock:
                            errors.append(f"{r.status} {answer[:200]!r}")
        finally:
            for c in conns:
                c.close()

    threads = [threading.Thread(target=client, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    start.wait(timeout=60)
    t0 = time.perf_counter()
    for t in threads:
        t.join(timeout=3600)
    return time.perf_counter() - t0, errors


def center_per_s(servers, tablets, n: int, clients: int, first_seq: int) -> float:
    rc = servers[0]
    per_device = n // len(tablets)
    before = rc.scalar("SELECT count(*) FROM records")
    elapsed, errors = post_all([s.url for s in servers], tablets, per_device, clients, first_seq)
    if errors:
        raise RuntimeError(f"{len(errors)} failed batches, first: {errors[0]}")
    stored = rc.scalar("SELECT count(*) FROM records") - before
    assert stored == per_device * len(tablets), (stored, per_device * len(tablets))
    return stored / elapsed


def measure(admin: str, folder: Path, n: int, clients: int, devices: int, rounds: int, instances: int) -> dict:
    from center.config import load_config
    from center.service import Center
    rows = []
    with pg_database(admin) as url:
        rc = start_center(folder, database=url)
        servers = [rc] + [RunningCenter(rc.config_path, url, free_port(), rc.device_id, rc.token,
                                        folder / f"center{i}.log") for i in range(1, instances)]
        try:
            for s in servers[1:]:
                s.start(timeout=60)
            c = Center(load_config(rc.config_path))
            tablets = enroll(c, devices)
            c.engine.dispose()
            # warm-up (not counted), to the steady state of a server that has run a while: each
            # tablet's first WARM_UP batches fill the pools, and psycopg prepares a statement on a
            # connection the fifth time it runs there (a cold round ran a fifth slower)
            post_all([s.url for s in servers], tablets, WARM_UP * BATCH, clients)
            seq = WARM_UP * BATCH + 1
            for r in range(rounds):
                before = raw_pg_per_s(url, n)
                one = center_per_s(servers[:1], tablets[:1], n // 2, 1, seq)
                many = center_per_s(servers, tablets, n, clients, seq + n)
                after = raw_pg_per_s(url, n)
                seq += n + n // len(tablets) + BATCH
                raw = (before + after) / 2
                rows.append({"center": many, "center_1": one, "raw": raw, "ratio": many / raw})
                print(f"  round {r + 1}: raw {before:9,.0f}/s, {after:9,.0f}/s after   center {many:9,.0f}/s "
                      f"({instances} instances, {clients} clients)   center {one:9,.0f}/s (1 instance, 1 client)"
                      f"   ratio {many / raw:.3f}   load {os.getloadavg()[0]:.2f}")
        finally:
            for s in servers:
                s.stop()
    out = {k: statistics.median(row[k] for row in rows) for k in ("center", "center_1", "raw", "ratio")}
    out["round_ratios"] = [round(row["ratio"], 3) for row in rows]
    return out


# ------------------------------------------------------------------ profile

def profile(admin: str, folder: Path, n: int) -> None:
    """cProfile of what POST /api/v1/votes does for a batch of 100 (the
    body read by api.parse_json, the VotesIn model, ingest), in this thread,
    on PostgreSQL. (For the whole server, HTTP included: py-spy on a
    `hall-center serve` process.)"""
    import cProfile
    import io
    import pstats

    from sqlalchemy import event

    from center.api import VotesIn, parse_json
    from center.ingest import ingest
    from support.center import make_center
    with pg_database(admin) as url:
        c = make_center(url, folder)
        c.add_device("tab-0001", HALL, "01")
        votes = Votes("tab-0001", "01")
        bodies = [votes.body(s) for s in range(1, n + 1, BATCH)]
        statements: dict[str, list] = {}

        @event.listens_for(c.engine, "before_cursor_execute")
        def _before(conn, _cur, _stmt, _params, _ctx, _many):
            conn.info["bench_t0"] = time.perf_counter()

        @event.listens_for(c.engine, "after_cursor_execute")
        def _after(conn, _cur, stmt, _params, _ctx, _many):
            s = statements.setdefault(" ".join(stmt.split()[:3])[:40], [0, 0.0])
            s[0] += 1
            s[1] += time.perf_counter() - conn.info["bench_t0"]

        def post(body: bytes) -> None:
            batch = VotesIn.model_validate(parse_json(body))
            assert {x["status"] for x in ingest(c, batch.device_id, batch.votes)} == {"stored"}

        post(bodies[0])
        statements.clear()
        prof = cProfile.Profile()
        t0 = time.perf_counter()
        prof.enable()
        for body in bodies[1:]:
            post(body)
        prof.disable()
        elapsed = time.perf_counter() - t0
        c.engine.dispose()
    batches = len(bodies) - 1
    print(f"profile: {batches} batches of {BATCH} (parse, model, ingest) in {elapsed:.2f} s under cProfile "
          f"({batches * BATCH / elapsed:,.0f} records/s)")
    print("  statements per batch (cursor time, driver and server):")
    for k, (count, secs) in sorted(statements.items(), key=lambda kv: -kv[1][1]):
        print(f"    {k:<42} {count / batches:5.1f}  {1000 * secs / batches:7.3f} ms")
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("cumulative").print_stats(40)
    print(out.getvalue())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--records", type=int, default=20000, help="records per measurement")
    ap.add_argument("--clients", type=int, default=8, help="tablets posting at a time")
    ap.add_argument("--devices", type=int, default=16, help="enrolled tablets")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--instances", type=int, default=2, help="hall-center serve processes on the database")
    ap.add_argument("--pg", metavar="URL", help="admin URL of a PostgreSQL server "
                    "(default: HALL_TEST_PG, else a throwaway cluster)")
    ap.add_argument("--profile", action="store_true", help="also profile ingest in this process")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="hall-bench-ingest-") as tmp, admin_server(args.pg) as admin:
        print(f"ingest on PostgreSQL ({admin}), {args.records:,} records per measurement, "
              f"batches of {BATCH}, load {os.getloadavg()[0]:.2f}")
        if args.profile:
            profile(admin, Path(tmp) / "profile", min(args.records, 5000))
        got = measure(admin, Path(tmp) / "center", args.records, args.clients, args.devices, args.rounds,
                      args.instances)
    print(f"{'metric (median of rounds)':<32}{'value':>12}{'target':>12}")
    print(f"{'ingest_per_s_postgres':<32}{got['center']:>12,.0f}{'':>12}")
    print(f"{'ingest_per_s_postgres_1client':<32}{got['center_1']:>12,.0f}{'':>12}")
    print(f"{'raw_pg_per_s':<32}{got['raw']:>12,.0f}{'':>12}")
    print(f"{'ratio_to_raw':<32}{got['ratio']:>12.3f}{'>= 0.40':>12}")
    print(json.dumps({"ingest_per_s_postgres": round(got["center"], 1),
                      "ingest_per_s_postgres_1client": round(got["center_1"], 1),
                      "raw_pg_per_s": round(got["raw"], 1), "ratio_to_raw": round(got["ratio"], 3),
                      "round_ratios": got["round_ratios"],
                      "instances": args.instances, "clients": args.clients, "records": args.records}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
