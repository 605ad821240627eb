"""hall-center: serve, add-device, rotate-token, add-user, passwd, disable-user,
enable-user, rebuild-stats, sample (center/samplecli.py)."""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from hallcore.config import ConfigError
from hallcore.hallclock import HallTimeFormatter, set_hall_zone

from . import samplecli
from .config import load_config
from .service import Center, CenterError


def _center(args) -> Center:
    cfg = load_config(args.config)
    set_hall_zone(cfg.timezone)      # pages, exports, log lines and the statistics day
    center = Center(cfg)
    center.migrate()
    return center


def cmd_serve(args) -> int:
    import uvicorn

    from .api import create_app
    center = _center(args)
    app = create_app(center, worker=True)
    uvicorn.run(app, host=args.host or center.cfg.host, port=args.port or center.cfg.port,
                log_level=args.log_level, access_log=False)
    return 0


def cmd_add_device(args) -> int:
    token = _center(args).add_device(args.device_id, args.hall, args.window)
    print(f"device {args.device_id} enrolled (hall {args.hall}, window {args.window}).")
    print("Its token, shown only this once — put it in the tablet's token file:")
    print(token)
    return 0


def cmd_rotate_token(args) -> int:
    token = _center(args).rotate_token(args.device_id)
    print(f"new token for {args.device_id} (the old one no longer works):")
    print(token)
    return 0


def _password(args) -> str:
    """From --password-file, or asked twice at the terminal."""
    if args.password_file:
        try:
            return Path(args.password_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise CenterError(f"cannot read --password-file: {e}") from None
    password = getpass.getpass(f"password for {args.name}: ")
    if getpass.getpass("again: ") != password:
        raise CenterError("the two passwords differ")
    return password


def cmd_add_user(args) -> int:
    _center(args).add_user(args.name, args.role, _password(args), args.window)
    print(f"user {args.name} ({args.role}{', window ' + args.window if args.window else ''}) added.")
    return 0


def cmd_passwd(args) -> int:
    ended = _center(args).set_password(args.name, _password(args))
    print(f"password of {args.name} changed; {ended} dashboard session(s) ended.")
    return 0


def cmd_disable_user(args) -> int:
    ended = _center(args).disable_user(args.name)
    print(f"user {args.name} disabled (cannot log in); {ended} dashboard session(s) ended.")
    return 0


def cmd_enable_user(args) -> int:
    _center(args).enable_user(args.name)
    print(f"user {args.name} may log in again.")
    return 0


def cmd_rebuild_stats(args) -> int:
    from .stats import rebuild_daily_stats
    n = rebuild_daily_stats(_center(args).engine)
    print(f"daily statistics rebuilt from {n} records.")
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hall-center",
                                description="County service center server for hall evaluation tablets")
    sub = p.add_subparsers(dest="command", required=True)

    def with_config(sp):
        sp.add_argument("--config", required=True, help="the center's TOML file "
                                                        "(see config/center.example.toml)")
        return sp

    s = with_config(sub.add_parser("serve", help="run the API, dashboard and alert worker"))
    s.add_argument("--host")
    s.add_argument("--port", type=int)
    s.add_argument("--log-level", default="info")
    s.set_defaults(func=cmd_serve)

    s = with_config(sub.add_parser("add-device", help="enroll a tablet and print its token once"))
    s.add_argument("device_id")
    s.add_argument("--hall", required=True)
    s.add_argument("--window", required=True)
    s.set_defaults(func=cmd_add_device)

    s = with_config(sub.add_parser("rotate-token", help="give a tablet a new token"))
    s.add_argument("device_id")
    s.set_defaults(func=cmd_rotate_token)

    s = with_config(sub.add_parser("add-user", help="add a dashboard user"))
    s.add_argument("name")
    s.add_argument("--role", required=True, choices=["handler", "supervisor"])
    s.add_argument("--window", help="the handler's window")
    s.add_argument("--password-file", help="read the password from this file instead of a prompt")
    s.set_defaults(func=cmd_add_user)

    s = with_config(sub.add_parser("passwd", help="set a dashboard user's password; "
                                                  "ends the user's sessions"))
    s.add_argument("name")
    s.add_argument("--password-file", help="read the password from this file instead of a prompt")
    s.set_defaults(func=cmd_passwd)

    s = with_config(sub.add_parser("disable-user", help="stop a dashboard user from logging in; "
                                                        "ends the user's sessions"))
    s.add_argument("name")
    s.set_defaults(func=cmd_disable_user)

    s = with_config(sub.add_parser("enable-user", help="let a disabled dashboard user log in again"))
    s.add_argument("name")
    s.set_defaults(func=cmd_enable_user)

    s = with_config(sub.add_parser("rebuild-stats", help="recompute the daily statistics from the records"))
    s.set_defaults(func=cmd_rebuild_stats)

    samplecli.add_parser(sub, with_config)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(HallTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        return args.func(args)
    except (ConfigError, CenterError) as e:
        print(f"hall-center: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
