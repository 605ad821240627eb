"""Every benchmark script starts as its docstring says (`python bench/X.py`):
bench/forward.py, bench/center.py and bench/kiosk.py share their names with
the project's packages, and the script's own folder comes first on sys.path."""
from __future__ import annotations

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
