"""Files the installed packages ship (package data), as real filesystem paths.

Every default file a command needs at run time (the font, the voice prompts,
the kv rules, the center's templates and migrations, the matters list, the
example configs) is read through here, so the installed wheel works from any
folder and no code guesses where the source tree is. The project's assets/ and
config/ folders are installed as the packages ASSETS and CONFIG (setup.cfg
package_dir; docs/DESIGN.md section 12).

Kivy, alembic and Jinja want a path, so each resource goes through
importlib.resources.as_file and stays valid until the process exits: for a
wheel installed as files that is the installed file itself; from a zip it
would be a temporary copy, removed at exit.
"""
from __future__ import annotations

import atexit
import functools
from contextlib import ExitStack
from importlib.resources import as_file, files
from pathlib import Path

ASSETS = "hall_assets"   # assets/: fonts/, sounds/
# config/: example.toml, demo.toml, matters.toml, holidays.toml, profiles/, provinces/, systemd/, nginx/
CONFIG = "hall_config"

_kept = ExitStack()
atexit.register(_kept.close)


@functools.cache
def shipped(package: str, *parts: str) -> Path:
    """The file or folder `parts` inside the installed `package`.

    A missing one is not an error here: the path is returned all the same, and
    the caller that opens it names it (hall-kiosk --check, the config checks).
    """
    return _kept.enter_context(as_file(files(package).joinpath(*parts)))
