"""hall-kiosk: start the evaluation kiosk, check its config, or hash an admin PIN.

    hall-kiosk --config /etc/hall/tablet.toml           validate, then start the kiosk
    hall-kiosk --config /etc/hall/tablet.toml --check   validate, and open the font, the
                                                        layout rules and the voice prompts
    hall-kiosk hash-pin                                 print a pin_hash for [admin]

A config error prints the key, the problem and the fix, and exits 2. An
outbox that cannot be opened (a full disk, a damaged store file, no write
permission) prints what it could not write and exits 3; systemd starts the
kiosk again, and it comes up once the problem is gone.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

from hallcore.config import ConfigError
from kiosk import admin
from kiosk.config import KioskConfig, load_kiosk_config
from kiosk.preflight import check_files
from outbox import OutboxError

EXIT_CONFIG = 2
EXIT_OUTBOX = 3


def run(config: KioskConfig) -> int:
    """Start the kiosk app on a validated config; blocks until it exits.

    The app lives in kiosk/ui/app.py (`run_app(config) -> int`, branch kioskui).
    """
    try:
        from kiosk.ui.app import run_app
    except ModuleNotFoundError as e:
        if e.name not in ("kiosk.ui", "kiosk.ui.app"):
            raise
        print("hall-kiosk: the config is valid, but the kiosk screens (kiosk/ui/app.py) are not "
              "installed in this build", file=sys.stderr)
        return 1
    try:
        return run_app(config)
    except OutboxError as e:    # names the folder or file and why
        # the real stderr: Kivy has taken sys.stderr over, and drops it without a console log
        print(f"hall-kiosk: cannot start: {e}", file=sys.__stderr__ or sys.stderr, flush=True)
        return EXIT_OUTBOX


def _read_pin() -> str:
    if sys.stdin.isatty():
        pin = getpass.getpass("admin PIN (4-12 digits): ")
        if getpass.getpass("again: ") != pin:
            raise ValueError("the two PINs differ")
        return pin
    return sys.stdin.readline().strip()   # scripted: the PIN on standard input


def hash_pin_command() -> int:
    try:
        print(admin.hash_pin(_read_pin()))
    except ValueError as e:
        print(f"hall-kiosk hash-pin: {e}", file=sys.stderr)
        return EXIT_CONFIG
    print("put it in the config as:  [admin]  pin_hash = \"<the line above>\"", file=sys.stderr)
    return 0


def _summary(c: KioskConfig) -> str:
    t, f = c.tablet, c.flow
    return (f"{c.path}: valid. device {t.device_id}, region {t.region_code}, hall {t.hall_id}, "
            f"window {t.window_id}; {f.scale}-level scale, reminder {f.reminder_after_s:g} s, "
            f"timeout {f.timeout_s:g} s; queue source {c.queue.get('source')!r}; storage {t.storage}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hall-kiosk", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", type=Path, metavar="FILE", help="the tablet's TOML config")
    parser.add_argument("--check", action="store_true",
                        help="validate the config, open the files the kiosk uses, and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("hash-pin", help="read an admin PIN and print its pin_hash for [admin]")
    args = parser.parse_args(argv)
    if args.command == "hash-pin":
        return hash_pin_command()
    if args.config is None:
        parser.print_usage(sys.stderr)
        print("hall-kiosk: --config FILE is required (see config/example.toml)", file=sys.stderr)
        return EXIT_CONFIG
    try:
        config = load_kiosk_config(args.config)
        checked = check_files(config) if args.check else []
    except ConfigError as e:
        print(f"hall-kiosk: config error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    if args.check:
        print(_summary(config))
        print("files: " + ", ".join(str(p) for p in checked) + ": all open")
        return 0
    return run(config)


if __name__ == "__main__":
    sys.exit(main())
