"""The checkout is self-contained: what a clone holds is all it refers to."""
import subprocess

from tests.support.paths import REPO


def tracked_text_files():
    out = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True)
    for name in out.stdout.splitlines():
        path = REPO / name
        if path.suffix in {".png", ".otf", ".wav", ".ttf"} or not path.is_file():
            continue
        yield name, path.read_text(encoding="utf-8", errors="replace")


def test_no_file_refers_to_anything_outside_the_repository():
    pointers = ("../" + "shared", "shared/" + "DESIGN")   # split: this file is tracked too
    outside = [name for name, text in tracked_text_files() if any(p in text for p in pointers)]
    assert outside == []


def test_the_design_of_record_is_in_the_repository():
    text = (REPO / "docs" / "DESIGN.md").read_text(encoding="utf-8")
    for n in range(1, 9):             # the section numbers the code cites
        assert f"\n## {n}." in text or f"\n## {n} " in text, n
