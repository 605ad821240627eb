"""Where the checkout's own folders are, for tests that read shipped files
or write screenshots (one place, so a test's depth in tests/ never matters)."""
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "config"
SUPPORT = REPO / "tests" / "support"
TEST_OUTPUT = REPO / "test-output"
