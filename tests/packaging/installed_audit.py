"""Run by the installed venv's python (tests/packaging/test_wheel.py): import
every module of the installed packages, do what needs shipped files (the
kiosk's --check, the center's migrations and templates, the simulator's
matters list) and record every file opened, as JSON in argv[3].

    python -I installed_audit.py TABLET_TOML WORK_FOLDER OUT_JSON
"""
import importlib
import json
import os
import pkgutil
import sys
from importlib.resources import files
from pathlib import Path

PACKAGES = ("hallcore", "outbox", "kiosk", "agent", "center", "halldemo", "hall_assets", "hall_config")
# Not importable on their own: the demo's entry point runs the demo, and the
# migrations run only inside center.db.migrate (which the audit calls).
NOT_IMPORTED = ("halldemo.__main__", "center.migrations.")

opened: list[str] = []


def record(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.path.abspath(os.fsdecode(args[0])))


os.environ["KIVY_LOG_MODE"] = "PYTHON"    # Kivy leaves sys.stderr alone: a traceback reaches the test
sys.addaudithook(record)
tablet, work, out = (Path(a) for a in sys.argv[1:4])

modules = []
for name in PACKAGES:
    package = importlib.import_module(name)
    modules.append(name)
    for info in pkgutil.walk_packages(package.__path__, name + "."):
        if not info.name.startswith(NOT_IMPORTED) and info.name not in NOT_IMPORTED:
            importlib.import_module(info.name)
            modules.append(info.name)

from center.web.deps import TEMPLATES  # noqa: E402
from center.db import make_engine, migrate  # noqa: E402
from kiosk.cli import main as kiosk_main  # noqa: E402
from kiosk.events import load_matters  # noqa: E402
from kiosk.simulator import DEFAULT_MATTERS  # noqa: E402

check_rc = kiosk_main(["--config", str(tablet), "--check"])
engine = make_engine(f"sqlite:///{work / 'audit.sqlite3'}")
migrate(engine)
engine.dispose()
templates = sorted(TEMPLATES.env.list_templates())
for name in templates:
    TEMPLATES.env.get_template(name)
matters = len(load_matters(DEFAULT_MATTERS))

paths = sorted({str(v) for m in list(sys.modules.values())
                if getattr(m, "__name__", "").split(".")[0] in PACKAGES
                for v in vars(m).values() if isinstance(v, Path)})
out.write_text(json.dumps({
    "modules": modules, "check_rc": check_rc, "templates": templates, "matters": matters,
    "opened": sorted(set(opened)), "module_paths": paths, "sys_path": sys.path,
    "package_folders": {p: str(files(p)) for p in PACKAGES},
}, ensure_ascii=False), encoding="utf-8")
