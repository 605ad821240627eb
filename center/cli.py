"""hall-center: serve, add-device, rotate-token, add-user, passwd, disable-user,
enable-user, rebuild-stats, directory import/export."""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from hallcore.config import ConfigError
from hallcore.hallclock import HallTimeFormatter, set_hall_zone

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


def _read_directory(path: Path, replace: bool):
    """The import file as a Directory; DirectoryError says what is wrong."""
    from .directory import DirectoryError, decode, parse
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in ("toml", "csv"):
        raise DirectoryError([f"{path}: the file must end in .toml or .csv"])
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DirectoryError([f"cannot read {path}: {e.strerror}"]) from None
    # a merging file may name departments or windows already in the directory
    return parse(decode(data), fmt, references=replace)


def _confirm(prompt: str) -> bool:
    try:
        return input(prompt).strip().lower() in ("y", "yes")
    except EOFError:
        return False


def cmd_directory_import(args) -> int:
    from . import directory_db
    from .directory import DirectoryError, diff, diff_lines
    center = _center(args)
    path = Path(args.file)
    try:
        incoming = _read_directory(path, args.replace)
        with center.engine.connect() as conn:
            shown = diff(directory_db.load(conn), incoming, replace=args.replace)
    except DirectoryError as e:
        print(f"hall-center: {path} was not imported:", file=sys.stderr)
        for line in e.errors:
            print(f"  {line}", file=sys.stderr)
        return 2
    mode = "replacing the directory" if args.replace else "adding and changing entries"
    print(f"directory import {path} ({mode}):")
    if shown.empty:
        print("  nothing to change: the directory already holds this.")
        return 0
    print("\n".join(diff_lines(shown)))
    print(f"{len(shown.added)} added, {len(shown.changed)} changed, {len(shown.removed)} removed.")
    if not args.yes and not _confirm("Apply these changes? [y/N] "):
        print("not imported.")
        return 1
    # the confirmation was given without holding the write lock: apply only
    # if nobody changed the directory meanwhile
    with center.engine.begin() as conn:
        now = diff(directory_db.load(conn), incoming, replace=args.replace)
        if (now.added, now.changed, now.removed) != (shown.added, shown.changed, shown.removed):
            raise CenterError("the directory changed while you were confirming; run the import again")
        directory_db.write(conn, now)
    c = directory_db.counts(now.result)
    print(f"imported: the directory holds {c['department']} departments, {c['window']} windows, "
          f"{c['staff']} staff.")
    return 0


def cmd_directory_export(args) -> int:
    from . import directory_db
    from .directory import format_csv, format_toml, from_department_names, in_use
    center = _center(args)
    with center.engine.connect() as conn:
        d = directory_db.load(conn)
    header = ""
    if not d.entries() and center.cfg.departments:
        d = from_department_names(center.cfg.departments)
        header = (f"A first directory made from [departments] of {args.config}.\n"
                  "Check the department ids and the window names, then run\n"
                  "hall-center directory import THIS_FILE --replace")
        print(f"hall-center: the directory is empty; this is a draft from [departments] of "
              f"{args.config}", file=sys.stderr)
    elif not in_use(d):
        print("hall-center: the directory holds no window yet", file=sys.stderr)
    text = format_csv(d) if args.format == "csv" else format_toml(d, header)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
        print(f"directory written to {args.output}.", file=sys.stderr)
    else:
        sys.stdout.write(text)
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

    dp = sub.add_parser("directory", help="the directory of departments, windows and staff",
                        description="Statistics by department use the directory: a record's "
                                    "window maps to its department; a window or staff member "
                                    "the directory does not know is shown as 未登记（id）.")
    dsub = dp.add_subparsers(dest="directory_command", required=True)
    s = with_config(dsub.add_parser(
        "import", help="import a TOML or CSV file (config/directory.example.toml): shows the "
                       "changes and asks before applying them"))
    s.add_argument("file", help="a .toml or .csv file (CSV header kind,id,name,parent)")
    s.add_argument("--replace", action="store_true",
                   help="the file is the whole directory: entries not in it are removed "
                        "(default: add and change only)")
    s.add_argument("--yes", action="store_true", help="apply without asking")
    s.set_defaults(func=cmd_directory_import)
    s = with_config(dsub.add_parser(
        "export", help="write the directory as an import file (an empty directory: a draft "
                       "from the config's [departments])"))
    s.add_argument("--format", choices=["toml", "csv"], default="toml")
    s.add_argument("--output", help="write to this file instead of standard output")
    s.set_defaults(func=cmd_directory_export)
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
