"""Every benchmark script starts as its docstring says (`python bench/X.py`):
bench/forward.py, bench/center.py and bench/kiosk.py share their names with
the project's packages, and the script's own folder comes first on sys.path."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from tests.support.paths import REPO

BENCH = REPO / "bench"


@pytest.mark.parametrize("script", sorted(p.name for p in BENCH.glob("*.py")))
def test_bench_script_imports_the_project_and_prints_its_help(script):
    proc = subprocess.run([sys.executable, str(BENCH / script), "--help"], capture_output=True, text=True,
                          timeout=120, cwd=BENCH)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage:" in proc.stdout


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_fleet_bench_runs_two_instances_in_quick_mode(pg_admin_url):
    # smaller still than --quick: the test proves the bench runs end to end, it measures nothing
    proc = subprocess.run([sys.executable, str(BENCH / "fleet.py"), "--quick", "--devices", "6", "--rounds", "2",
                           "--live-s", "1", "--backlog", "1200", "--raw-records", "500", "--concurrency", "8",
                           "--pg", pg_admin_url], capture_output=True, text=True, timeout=600, cwd=BENCH)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = last_json(proc.stdout)
    assert out["errors"] == 0, proc.stdout[-2000:]
    assert (out["devices"], out["instances"], out["drained"]) == (6, 2, 1200)
    assert out["records_stored"] == 1200 + 6 * 2 + 2 * 2      # backlog, live votes, warm-up votes
    assert out["heartbeats"] == 6 * 2
    # no bundle endpoint yet (404: unavailable), or the bundle branch's: fetched, then not modified
    assert out["bundle_unavailable"] + out["bundle_fetched"] + out["bundle_not_modified"] == 6 * 2
    for key in ("vote_p99_ms", "drain_1m_s", "ingest_per_s_postgres", "raw_pg_per_s", "ratio_to_raw"):
        assert out[key] > 0, key
    assert out["drain_1m_s_scaled"] is True


def test_ingest_bench_measures_the_center_against_raw_psycopg(pg_admin_url):
    proc = subprocess.run([sys.executable, str(BENCH / "ingest.py"), "--records", "800", "--rounds", "1",
                           "--devices", "2", "--clients", "2", "--pg", pg_admin_url],
                          capture_output=True, text=True, timeout=600, cwd=BENCH)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = last_json(proc.stdout)
    assert out["records"] == 800 and out["ingest_per_s_postgres"] > 0 and out["raw_pg_per_s"] > 0
    # one round: its ratio is the center's rate over the mean of the raw rates around it
    assert out["round_ratios"] == [out["ratio_to_raw"]]
    assert abs(out["ratio_to_raw"] - out["ingest_per_s_postgres"] / out["raw_pg_per_s"]) < 0.002


def test_stats_bench_fills_and_times_the_page(pg_admin_url):
    proc = subprocess.run([sys.executable, str(BENCH / "stats10m.py"), "--records", "30000", "--repeat", "1",
                           "--pg", pg_admin_url], capture_output=True, text=True, timeout=600, cwd=BENCH)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = last_json(proc.stdout)
    assert out["records"] == 30000 and out["cases"] > 0 and out["rollup_rows"] > 0
    assert len(out["pages"]) == 8 and out["stats_page_s_10m"] == max(out["pages"].values())
