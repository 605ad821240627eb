"""Public page benchmark: the time of /public over a year of a 20-window
hall's rollup (20 windows x 365 days x 3 staff x 4 matters = 87,600
daily_stats rows) and its cases (2 a day per window, from 综合点评 entries,
14,600), on SQLite and PostgreSQL, in process (the real app, TestClient).

    .venv/bin/python bench/public.py [--windows 20] [--days 365] [--repeat 5] [--pg URL | --no-pg]

Times: a cold page (the in-process cache cleared: the whole query set and
the render), with staff names off and on, for the newest month and one in
the middle of the year; a page from the in-process cache; a 304. Target:
a cold page well under 1 s, a cached one in milliseconds.
The last line is one JSON object.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import sys
import tempfile
import time
from datetime import date, datetime, time as clock_time, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import event, insert

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

from center.api import create_app  # noqa: E402
from center.config import PublicConfig  # noqa: E402
from center.db import cases, comments, daily_stats  # noqa: E402
from center.service import Center  # noqa: E402
from hallcore.hallclock import DEFAULT_TZ, to_db  # noqa: E402
from support.center import Clock, make_center  # noqa: E402
from support.postgres import admin_server, pg_database  # noqa: E402

LAST = date(2026, 11, 30)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=DEFAULT_TZ)
CHUNK = 5000


def load(c, windows: int, days: int) -> tuple[int, int]:
    """The rollup rows and cases of `days` days up to LAST; (rows, cases)."""
    rows = [dict(day=LAST - timedelta(days=i), department=f"部门{w % 6}", window_id=f"{w:02d}",
                 staff_id=f"S{w}-{s}", staff_name=f"员工{w}-{s}", matter_code=f"M{m}", matter_name=f"事项{m}",
                 total=12, rated=11, good=10, bad=1, excluded=0, channel="hall_tablet", satisfaction_code=0)
            for w in range(1, windows + 1) for i in range(days) for s in range(3) for m in range(4)]
    n_cases = 0
    with c.engine.begin() as conn:
        for k in range(0, len(rows), CHUNK):
            conn.execute(insert(daily_stats), rows[k:k + CHUNK])
        entries, case_rows = [], []
        for w in range(1, windows + 1):
            for i in range(days):
                for h in (10, 15):
                    at = to_db(datetime.combine(LAST - timedelta(days=i), clock_time(h), DEFAULT_TZ))
                    entries.append(dict(source="box", verdict="bad", negative=True, text="意见",
                                        window_id=f"{w:02d}", received_at=at, entered_by="bench", entered_at=at))
                    case_rows.append(dict(source="comment", hall_id="taojiang", window_id=f"{w:02d}",
                                          department=f"部门{w % 6}", staff_id="", matter_code="", state="closed",
                                          voted_at=at, due_at=at, calendar_verified=True, appeal="none",
                                          updated_at=at, rectified_at=at if h == 10 else None))
        for k in range(0, len(entries), CHUNK):
            conn.execute(insert(comments), entries[k:k + CHUNK])
        ids = [r[0] for r in conn.exec_driver_sql("SELECT id FROM comments ORDER BY id")]
        for r, cid in zip(case_rows, ids):
            r["comment_id"] = cid
        for k in range(0, len(case_rows), CHUNK):
            conn.execute(insert(cases), case_rows[k:k + CHUNK])
        n_cases = len(case_rows)
    return len(rows), n_cases


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return out


def bench(c: Center, repeat: int) -> dict[str, float]:
    out: dict[str, float] = {}
    statements: list[str] = []
    for names in (False, True):
        center = Center(dataclasses.replace(c.cfg, public=PublicConfig(staff_names=names)), clock=c.clock)
        event.listen(center.engine, "before_cursor_execute", lambda *a: statements.append(a[2]))
        app = create_app(center)
        cl = TestClient(app)
        tag = "names" if names else "no_names"
        for label, month in (("newest", "2026-11"), ("mid_year", "2026-05")):
            def cold():
                app.state.public_cache.clear()
                r = cl.get(f"/public?month={month}")
                assert r.status_code == 200, r.text[:300]
            cold()                                           # warm the connection pool and templates
            statements.clear()
            cold()
            out[f"queries_{tag}"] = len(statements)
            times = timed(cold, repeat)
            out[f"cold_{label}_{tag}_ms"] = 1000 * statistics.median(times)
            out[f"cold_{label}_{tag}_max_ms"] = 1000 * max(times)
        if not names:
            etag = cl.get("/public").headers["etag"]
            out["cached_ms"] = 1000 * statistics.median(timed(lambda: cl.get("/public"), 10 * repeat))
            out["not_modified_ms"] = 1000 * statistics.median(timed(
                lambda: cl.get("/public", headers={"If-None-Match": etag}), 10 * repeat))
        center.engine.dispose()
    return out


def run(name: str, url: str, tmp: Path, args) -> dict[str, float]:
    c = make_center(url, tmp / name, clock=Clock(NOW))
    try:
        t = time.perf_counter()
        rows, n_cases = load(c, args.windows, args.days)
        print(f"{name}: {rows:,} rollup rows and {n_cases:,} cases loaded in {time.perf_counter() - t:.1f} s")
        if c.engine.dialect.name == "postgresql":
            with c.engine.begin() as conn:
                conn.exec_driver_sql("ANALYZE")
        out = bench(c, args.repeat)
        for k, v in out.items():
            print(f"  {k:<34}{v:10.1f}")
        return out
    finally:
        c.engine.dispose()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--windows", type=int, default=20)
    ap.add_argument("--days", type=int, default=365)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--pg", metavar="URL", help="admin URL of a PostgreSQL server "
                    "(default: HALL_TEST_PG, else a throwaway cluster)")
    ap.add_argument("--no-pg", action="store_true", help="SQLite only")
    args = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="hall-bench-public-") as tmp:
        tmp = Path(tmp)
        (tmp / "sqlite").mkdir()
        results["sqlite"] = run("sqlite", f"sqlite:///{tmp / 'sqlite' / 'c.sqlite3'}", tmp, args)
        if not args.no_pg:
            (tmp / "postgres").mkdir()
            with admin_server(args.pg) as admin, pg_database(admin) as url:
                results["postgres"] = run("postgres", url, tmp, args)
    print(json.dumps({db: {k: round(v, 2) for k, v in r.items()} for db, r in results.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
