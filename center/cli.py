"""hall-center: serve, add-device, move-device, rotate-token, add-user, rebuild-stats."""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from hallcore.config import ConfigError

from .config import load_config
from .service import Center, CenterError


def _center(args) -> Center:
    center = Center(load_config(args.config))
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
    center = _center(args)
    token = center.add_device(args.device_id, args.hall, args.window, args.region)
    region = args.region or center.cfg.region_code or "that of its first record"
    print(f"device {args.device_id} enrolled (hall {args.hall}, window {args.window}, region {region}).")
    print("Its token, shown only this once — put it in the tablet's token file:")
    print(token)
    return 0


def cmd_move_device(args) -> int:
    before, after, beat = _center(args).move_device(args.device_id, args.hall, args.window, args.region)
    print(f"device {args.device_id} moved: hall {before.hall_id} -> {after.hall_id}, "
          f"window {before.window_id} -> {after.window_id}, "
          f"region {before.region_code or '-'} -> {after.region_code or '-'} (logged).")
    pending = (beat or {}).get("pending")
    if pending:
        print(f"warning: its last heartbeat reported {pending} records still on the tablet; those made "
              f"at the old window will now be rejected (quarantined on the tablet). Let the outbox "
              f"drain before moving a tablet.")
    return 0


def cmd_rotate_token(args) -> int:
    token = _center(args).rotate_token(args.device_id)
    print(f"new token for {args.device_id} (the old one no longer works):")
    print(token)
    return 0


def cmd_add_user(args) -> int:
    if args.password_file:
        try:
            password = Path(args.password_file).read_text(encoding="utf-8").strip()
        except OSError as e:
            raise CenterError(f"cannot read --password-file: {e}") from None
    else:
        password = getpass.getpass(f"password for {args.name}: ")
        if getpass.getpass("again: ") != password:
            raise CenterError("the two passwords differ")
    _center(args).add_user(args.name, args.role, password, args.window)
    print(f"user {args.name} ({args.role}{', window ' + args.window if args.window else ''}) added.")
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
    s.add_argument("--region", help="6-digit 行政区划代码 (default: [center] region_code)")
    s.set_defaults(func=cmd_add_device)

    s = with_config(sub.add_parser("move-device", help="enroll a tablet for another hall or window (logged)"))
    s.add_argument("device_id")
    s.add_argument("--hall", required=True)
    s.add_argument("--window", required=True)
    s.add_argument("--region", help="6-digit 行政区划代码 (default: unchanged)")
    s.set_defaults(func=cmd_move_device)

    s = with_config(sub.add_parser("rotate-token", help="give a tablet a new token"))
    s.add_argument("device_id")
    s.set_defaults(func=cmd_rotate_token)

    s = with_config(sub.add_parser("add-user", help="add a dashboard user"))
    s.add_argument("name")
    s.add_argument("--role", required=True, choices=["handler", "supervisor"])
    s.add_argument("--window", help="the handler's window")
    s.add_argument("--password-file", help="read the password from this file instead of a prompt")
    s.set_defaults(func=cmd_add_user)

    s = with_config(sub.add_parser("rebuild-stats", help="recompute the daily statistics from the records"))
    s.set_defaults(func=cmd_rebuild_stats)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        return args.func(args)
    except (ConfigError, CenterError) as e:
        print(f"hall-center: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
