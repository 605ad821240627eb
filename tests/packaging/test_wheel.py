"""What hall IT installs is what the tests prove (issue 10): the wheel built
from this tree, installed with its dependencies into a fresh venv in a temp
folder outside the checkout, runs from any folder on its own files alone.

The venv's commands run with cwd=/ and a clean environment, so neither the
checkout nor the test's own venv can stand in for a file the wheel forgot.
"""
from __future__ import annotations

import configparser
import json
import os
import shutil
import subprocess
import sys
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest
import requests
import tomli_w

from hallcore.packagedata import ASSETS, CONFIG, shipped
from kiosk.config import DEFAULT_FONT
from tests.support.mosquitto import free_port
from tests.support.paths import REPO
from tests.support.waiting import wait_for

HERE = Path(__file__).resolve().parent
PRODUCT = ("hallcore", "outbox", "kiosk", "agent", "center", "halldemo")
# Files of the source folders that are for building, not for running.
NOT_SHIPPED = {"assets/sounds/make_sounds.sh"}
# Named here so that a regression reads as the file that went missing.
RUNTIME_FILES = (
    "hall_assets/fonts/NotoSansSC-Hall-Regular.otf", "hall_assets/fonts/NotoSansSC-Hall-Bold.otf",
    "hall_assets/fonts/OFL.txt",
    "hall_assets/sounds/rate.wav", "hall_assets/sounds/reminder.wav", "hall_assets/sounds/thanks.wav",
    "kiosk/ui/kiosk.kv",
    "center/templates/base.html", "center/templates/login.html", "center/templates/cases.html",
    "center/static/charts.js", "center/static/vendor/echarts/echarts.min.js",
    "center/static/vendor/echarts/LICENSE", "center/static/vendor/echarts/NOTICE",
    "center/migrations/env.py", "center/migrations/script.py.mako",
    "center/migrations/versions/0001_initial_schema.py",
    "hall_config/matters.toml", "hall_config/example.toml", "hall_config/demo.toml",
    "hall_config/holidays.toml", "hall_config/center.example.toml",
    "hall_config/profiles/xunhu-csv.toml", "hall_config/profiles/bracket-kv.toml",
    "hall_config/provinces/hunan-example.toml",
    "hall_config/systemd/hall-kiosk.service", "hall_config/systemd/hall-agent.service",
    "hall_config/systemd/hall-center@.service", "hall_config/nginx/hall-center.conf",
    "hall_config/center.two-instances.toml",
)
BUILD_LEFTOVERS = shutil.ignore_patterns(".git", ".venv", "build", "dist", "var", "test-output", "*.egg-info",
                                         "__pycache__", "*.pyc", ".pytest_cache", ".hypothesis")


def _setup_cfg() -> tuple[set[str], dict[str, str]]:
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg", encoding="utf-8")
    packages = set(cfg["options"]["packages"].split())
    mapped = dict(line.split(" = ") for line in cfg["options"]["package_dir"].strip().splitlines())
    return packages, mapped


def _source_folders() -> dict[str, Path]:
    """Every folder of the tree the wheel must carry, by its package name."""
    _, mapped = _setup_cfg()
    roots = {name: REPO / name for name in PRODUCT} | {pkg: REPO / folder for pkg, folder in mapped.items()}
    out = {}
    for package, root in roots.items():
        for folder in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
            if folder.name == "__pycache__" or not any(f.is_file() for f in folder.iterdir()):
                continue
            out[".".join([package, *folder.relative_to(root).parts])] = folder
    return out


def _wheel_name(package: str, file: Path) -> str:
    return "/".join([*package.split("."), file.name])


def test_setup_cfg_lists_every_package_and_data_folder():
    packages, mapped = _setup_cfg()
    assert mapped == {"hall_assets": "assets", "hall_config": "config"}
    assert packages == set(_source_folders()), "list the new folder under [options] packages in setup.cfg"


def test_the_editable_install_reads_the_checkout_s_own_folders():
    """`make venv` installs the tree editable: the same names resolve to assets/ and config/."""
    assert shipped(ASSETS, "fonts") == REPO / "assets" / "fonts"
    assert shipped(CONFIG, "matters.toml") == REPO / "config" / "matters.toml"
    assert DEFAULT_FONT.is_file() and DEFAULT_FONT.is_relative_to(REPO / "assets")


# ------------------------------------------------------------------ the wheel, installed

@dataclass(frozen=True)
class Installed:
    root: Path            # the temp folder, outside the checkout
    python: Path
    bin: Path
    site: Path            # the venv's site-packages
    wheel: Path

    def env(self) -> dict[str, str]:
        """A clean environment: nothing that points back at the checkout or its venv."""
        keep = {k: v for k, v in os.environ.items()
                if not k.startswith(("PYTHON", "VIRTUAL_ENV", "KIVY", "SDL_", "HALL_"))}
        return keep | {"PATH": f"{self.bin}:/usr/bin:/bin", "HOME": str(self.root / "home"),
                       "KIVY_HOME": str(self.root / "home" / "kivy")}

    def run(self, *args: str, timeout: float = 60, **kw) -> subprocess.CompletedProcess:
        return subprocess.run([str(a) for a in args], cwd="/", env=self.env(), capture_output=True, text=True,
                              timeout=timeout, **kw)


def _run(*args, timeout: float) -> None:
    out = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{args}:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    assert not root.resolve().is_relative_to(REPO)
    # Built from a copy: a stale build/ in the checkout cannot leak into it, and the checkout stays clean.
    src = root / "src"
    shutil.copytree(REPO, src, ignore=BUILD_LEFTOVERS)
    _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", root / "dist", src, timeout=300)
    shutil.rmtree(src)
    (wheel,) = (root / "dist").glob("hall_evaluation_terminal-*.whl")
    venv = root / "venv"
    _run(sys.executable, "-m", "venv", venv, timeout=120)
    _run(venv / "bin" / "python", "-m", "pip", "install", "--quiet", f"{wheel}[center]", timeout=600)
    purelib = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    site = Path(subprocess.run([venv / "bin" / "python", "-I", "-c", purelib],
                               capture_output=True, text=True, check=True, timeout=60).stdout.strip())
    (root / "home").mkdir()
    yield Installed(root, venv / "bin" / "python", venv / "bin", site, wheel)
    shutil.rmtree(venv)      # ~250 MB; pytest keeps the rest of the temp folder for a look


@dataclass(frozen=True)
class Hall:
    example: Path         # the installed example config, copied as it is (README)
    tablet: Path          # the same, with this machine's folders and the test center's port
    center: Path          # the installed center example config
    center_port: int
    token_file: Path
    work: Path


@pytest.fixture(scope="module")
def hall(installed) -> Hall:
    """The example configs copied out of the installed package data, as the
    README tells hall IT to do, with this machine's folders and ports."""
    out = installed.run(installed.python, "-I", "-c",
                        "from importlib.resources import files; print(files('hall_config'))")
    shipped = Path(out.stdout.strip())
    assert shipped.is_relative_to(installed.site), out
    etc, var = installed.root / "etc", installed.root / "var"
    etc.mkdir()
    shutil.copy(shipped / "holidays.toml", etc)       # example.toml names it relative to itself
    shutil.copy(shipped / "example.toml", etc)
    port = free_port()
    tablet = tomllib.loads((shipped / "example.toml").read_text(encoding="utf-8"))
    tablet["storage"] = {"folder": str(var), "outbox": str(var / "outbox")}
    tablet["center"].update(url=f"http://127.0.0.1:{port}", token_file=str(etc / "device-token"))
    tablet["agent"]["log_file"] = str(var / "agent.log")
    (etc / "tablet.toml").write_text(tomli_w.dumps(tablet), encoding="utf-8")
    center = installed.root / "center" / "center.toml"    # its ../var paths land in the temp folder
    center.parent.mkdir()
    shutil.copy(shipped / "center.example.toml", center)
    return Hall(etc / "example.toml", etc / "tablet.toml", center, port, etc / "device-token", installed.root)


@pytest.mark.slow
def test_the_wheel_carries_every_file_the_commands_need(installed):
    names = set(zipfile.ZipFile(installed.wheel).namelist())
    assert [f for f in RUNTIME_FILES if f not in names] == []
    expected = {_wheel_name(package, f) for package, folder in _source_folders().items()
                for f in folder.iterdir()
                if f.is_file() and f.suffix != ".pyc" and str(f.relative_to(REPO)) not in NOT_SHIPPED}
    assert sorted(expected - names) == []
    size = installed.wheel.stat().st_size
    assert size < 40 * 2**20, f"{size / 2**20:.1f} MiB"     # fonts 18 MiB, sounds 0.7 MiB, the rest small


@pytest.mark.slow
def test_installed_kiosk_check_passes_on_the_example_config_from_outside_the_checkout(installed, hall):
    as_shipped = installed.run(installed.bin / "hall-kiosk", "--config", hall.example, "--check")
    assert as_shipped.returncode == 0, as_shipped.stderr
    out = installed.run(installed.bin / "hall-kiosk", "--config", hall.tablet, "--check")
    assert out.returncode == 0, out.stderr
    assert "tj-hall-03" in out.stdout
    files = out.stdout.split("files: ", 1)[1].rsplit(": all open", 1)[0].split(", ")
    assert [Path(f).name for f in files] == ["NotoSansSC-Hall-Regular.otf", "NotoSansSC-Hall-Bold.otf",
                                             "kiosk.kv", "rate.wav", "reminder.wav", "thanks.wav"]
    assert all(Path(f).is_relative_to(installed.site) for f in files), files


@pytest.mark.slow
def test_installed_kiosk_renders_its_first_screen_in_chinese_with_the_packaged_font(installed, hall):
    script = shutil.copy(HERE / "installed_render.py", hall.work)
    report_file = hall.work / "render.json"
    out = installed.run(installed.python, "-I", script, hall.tablet, hall.work / "home" / "kivy-render",
                        report_file)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["screen"] == "idle" and report["text"] == "欢迎评价我们的服务"
    assert report["font"] == report["default_font"] == str(installed.site / "hall_assets" / "fonts" /
                                                           "NotoSansSC-Hall-Regular.otf")
    assert report["missing"] == ""                          # the font's cmap has every character
    assert report["ink"] > 0.02                             # the label's texture is not blank
    assert report["distinct_bitmaps"] == report["chars"] == 9   # glyphs, not one repeated missing-glyph box


@pytest.mark.slow
def test_installed_center_serves_with_its_migrations_and_the_agent_checks(installed, hall):
    enrol = installed.run(installed.bin / "hall-center", "add-device", "tj-hall-03", "--hall", "taojiang",
                          "--window", "03", "--config", hall.center)
    assert enrol.returncode == 0, enrol.stderr
    hall.token_file.write_text(enrol.stdout.strip().splitlines()[-1] + "\n", encoding="utf-8")
    log = (hall.work / "center.log").open("w")
    center = subprocess.Popen([installed.bin / "hall-center", "serve", "--config", hall.center,
                               "--port", str(hall.center_port), "--log-level", "warning"],
                              cwd="/", env=installed.env(), stdout=log, stderr=subprocess.STDOUT)
    log.close()
    url = f"http://127.0.0.1:{hall.center_port}"
    try:
        def healthy():
            assert center.poll() is None, (hall.work / "center.log").read_text()
            try:
                return requests.get(url + "/api/v1/health", timeout=1)
            except requests.ConnectionError:
                return None
        assert wait_for(healthy, timeout=60, what="the installed center").json() == {"ok": True}
        login = requests.get(url + "/login", timeout=5)
        assert login.status_code == 200 and "工作人员登录" in login.text     # a template from the wheel
        check = installed.run(installed.bin / "hall-agent", "check", "--config", hall.tablet)
        assert check.returncode == 0, check.stderr
        assert "tj-hall-03" in check.stdout and "token file readable" in check.stdout
    finally:
        center.terminate()
        center.wait(30)
    assert (hall.work / "var" / "center.sqlite3").exists()      # the example's relative path, from its folder


@pytest.mark.slow
def test_no_installed_module_reads_a_file_outside_the_installation(installed, hall):
    script = shutil.copy(HERE / "installed_audit.py", hall.work)
    report_file = hall.work / "audit.json"
    out = installed.run(installed.python, "-I", script, hall.tablet, hall.work, report_file)
    assert out.returncode == 0, out.stderr[-3000:]
    report = json.loads(report_file.read_text(encoding="utf-8"))
    assert report["check_rc"] == 0 and report["matters"] >= 10 and "login.html" in report["templates"]
    assert {"kiosk.preflight", "center.web.deps", "halldemo.demo", "hall_assets"} <= set(report["modules"])
    repo = str(REPO)
    for key in ("opened", "module_paths", "sys_path"):
        assert [p for p in report[key] if p.startswith(repo)] == [], key
    assert all(Path(p).is_relative_to(installed.site) for p in report["package_folders"].values())
    ours = {Path(p) for p in report["opened"] if Path(p).is_relative_to(installed.site)}

    def used(name: str) -> bool:       # a module counts when its compiled copy was read
        f = installed.site / name
        return f in ours or any(p.parent == f.parent / "__pycache__" and p.name.startswith(f.stem + ".")
                                for p in ours)
    for needed in ("hall_assets/fonts/NotoSansSC-Hall-Regular.otf", "hall_assets/sounds/thanks.wav",
                   "kiosk/ui/kiosk.kv", "hall_config/matters.toml", "center/templates/base.html",
                   "center/migrations/env.py", "center/migrations/versions/0001_initial_schema.py"):
        assert used(needed), needed
    # Path constants of the packages (defaults) are installed files, or system paths: never a source tree.
    assert [p for p in report["module_paths"] if p.startswith(str(installed.root)) and
            not Path(p).is_relative_to(installed.site)] == []
