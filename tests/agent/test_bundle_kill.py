"""A kill during the apply of a bundle (agent/bundle.py) leaves the old bundle
or the new one, never a mix: the real BundleKeeper in a child process,
SIGKILLed half way through writing, right after the rename, and at random
moments of a loop that applies two bundles in turn. Each time the file reads
back as one of them, whole, and an agent and a kiosk started afterwards use it."""
import random
import subprocess
import sys
import time

import pytest

from agent.bundle import BundleKeeper
from hallcore.bundlefile import read_stored
from hallcore.tablet import load_tablet_file
from tests.support.bundles import noisy_png, png, sealed, staff_entry, write_bundle
from tests.support.paths import REPO
from tests.support.tablet_toml import write_tablet

CHILD = REPO / "tests" / "support" / "bundle_child.py"


@pytest.fixture
def tablet(tmp_path):
    path = write_tablet(tmp_path, {"storage.folder": "."})
    a = sealed(kiosk={"timeout_s": 90}, staff=[staff_entry("1024", "张三", png(120, 160))])
    b = sealed(kiosk={"timeout_s": 120, "scale": 5}, staff=[staff_entry(f"{i}", f"人{i}", noisy_png(100, 130, i))
                                                            for i in range(8)])
    assert len(b) > 20_000                       # a write long enough to be cut
    (tmp_path / "a.json").write_bytes(a)
    (tmp_path / "b.json").write_bytes(b)
    write_bundle(tmp_path, a)
    return path, a, b


def child(mode, tablet):
    path, _, _ = tablet
    folder = path.parent
    return subprocess.Popen([sys.executable, str(CHILD), mode, str(path), str(folder / "a.json"),
                             str(folder / "b.json")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            cwd=REPO, env={"PYTHONPATH": f"{REPO}:{REPO / 'tests' / 'support'}"})


def killed_at(word, proc):
    line = proc.stdout.readline().decode().strip()
    assert line == word, (line, proc.stderr.read().decode()[-2000:] if proc.poll() is not None else "")
    proc.kill()
    proc.wait(10)


def whole(path):
    """Which bundle the file holds, read as the agent and the kiosk read it."""
    _, tablet = load_tablet_file(path)
    stored = read_stored(tablet)
    raw = tablet.bundle_path.read_bytes()
    keeper = BundleKeeper(tablet)                # a restarted agent: uses it, tidies the cut write
    assert keeper.error is None and keeper.current.sha256 == stored.sha256
    assert not list(tablet.bundle_path.parent.glob(".bundle.json.*.tmp"))
    return raw


def test_a_kill_half_way_through_the_write_leaves_the_old_bundle(tablet):
    path, a, _ = tablet
    proc = child("in_write", tablet)
    killed_at("HALF", proc)
    assert list(path.parent.glob(".bundle.json.*.tmp"))      # the cut write is there, beside it
    assert whole(path) == a


def test_a_kill_right_after_the_rename_leaves_the_new_bundle(tablet):
    path, _, b = tablet
    proc = child("after_rename", tablet)
    killed_at("RENAMED", proc)
    assert whole(path) == b


def test_kills_at_random_moments_leave_one_bundle_or_the_other(tablet):
    path, a, b = tablet
    rng = random.Random(14)
    seen = set()
    for _ in range(12):
        proc = child("loop", tablet)
        assert proc.stdout.readline().decode().strip() == "APPLYING"
        time.sleep(rng.uniform(0.0, 0.15))
        proc.kill()
        proc.wait(10)
        raw = whole(path)
        assert raw in (a, b)
        seen.add(raw)
    assert seen                                              # (which one depends on the moment)
