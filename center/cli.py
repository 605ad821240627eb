"""hall-center: serve, add-device, move-device, rotate-token, add-integration, qr-secret,
add-user, passwd, disable-user, enable-user, rebuild-stats, report, calendar import,
directory import/export, sample (center/samplecli.py), upstream preview/status/backfill
(center/upstreamcli.py), flags scan/list (center/flagcli.py), audit (center/auditcli.py)."""
from __future__ import annotations

import argparse
import getpass
import logging
import sys
from pathlib import Path

from hallcore.config import ConfigError
from hallcore.hallclock import HallTimeFormatter, set_hall_zone

from . import auditcli, cliargs, flagcli, samplecli, upstreamcli
from .config import load_config
from .integration import IntegrationError
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


def cmd_add_integration(args) -> int:
    from .integration import add_client, device_id_of
    token = add_client(_center(args), args.name, args.hall)
    print(f"integration client {args.name} enrolled for hall {args.hall}.")
    print(f"It posts to /api/v1/integration/evaluations with records whose device_id is "
          f"{device_id_of(args.name)!r} and whose seq is its own counter from 1.")
    print("Its token, shown only this once — give it to the platform's operator:")
    print(token)
    return 0


def cmd_qr_secret(args) -> int:
    """A new check-code secret for a hall in [qr] secrets_file (the old ones still verify)."""
    from hallcore.fsutil import create_private

    from .qrcheck import format_secrets, new_secret
    from .qrpage import load_secrets
    cfg = load_config(args.config)
    if cfg.qr_secrets_file is None:
        raise CenterError(f"{args.config} names no [qr] secrets_file: add it, e.g. secrets_file = \"qr-secrets.toml\"")
    halls = {h: list(s) for h, s in load_secrets(cfg.qr_secrets_file).items()}
    secret = new_secret()
    halls[args.hall] = [secret, *halls.get(args.hall, [])]
    create_private(cfg.qr_secrets_file)
    cfg.qr_secrets_file.write_text(format_secrets(halls), encoding="utf-8")
    print(f"new QR secret for hall {args.hall} written to {cfg.qr_secrets_file} (older ones still verify); "
          "restart hall-center serve to use it.")
    print("Give the queue vendor this hex secret (HMAC-SHA256 key: decode the hex, do not use the text):")
    print(secret.hex())
    print("The ticket's URL: <center>/r?h=<hall>&c=<办件编号>[&m=<matter,…>]&k=<check code>, the check code "
          "as docs/DESIGN.md section 13.2 describes (with test vectors).")
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
    _center(args).add_user(args.name, args.role, _password(args), args.window, args.staff_id)
    print(f"user {args.name} ({args.role}{', window ' + args.window if args.window else ''}"
          f"{', staff ' + args.staff_id if args.staff_id else ''}) added.")
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


def cmd_report(args) -> int:
    """The assessment report (center/assessment.py), as on the dashboard's /report."""
    from hallcore.fsutil import atomic_write_bytes
    from hallcore.hallclock import in_hall

    from . import assessment, assessment_db
    from .assessment_xlsx import xlsx_bytes
    if args.start > args.end:
        raise CenterError(f"--from {args.start} is after --to {args.end}")
    center = _center(args)
    with center.engine.connect() as conn:
        rep = assessment_db.load(conn, args.start, args.end, args.by)
    if args.xlsx:
        path = Path(args.xlsx)
        try:
            atomic_write_bytes(path, xlsx_bytes(rep, in_hall(center.clock())))
        except OSError as e:
            raise CenterError(f"cannot write {path}: {e.strerror or e}") from None
        print(f"{assessment.title(rep)}, {args.start} to {args.end}: {len(rep.units)} units "
              f"written to {path}.")
    else:
        sys.stdout.write(assessment.text_table(rep))
    return 0


def cmd_calendar_import(args) -> int:
    """The State Council's notice → that year's table in the holiday override file (DESIGN.md §8.5)."""
    from hallcore.holidaynotice import NoticeError, parse_notice

    from .calendarfile import check_written, official_elsewhere, read_notice, read_override, write_override
    from .holidayfile import HolidayFileError, describe_changes, describe_notice, plan_import

    if args.to:
        target = Path(args.to)
    elif args.config:
        target = load_config(args.config).holiday_file
        if target is None:
            raise CenterError(f"{args.config} names no holiday_file: set [center] holiday_file "
                              "(config/holidays.toml is the shipped one) or pass --to FILE")
    else:
        raise CenterError("say which file to write: --config (its [center] holiday_file) or --to FILE")
    target = target.resolve()        # a symlinked /etc/hall/holidays.toml: write its target
    try:
        notice = parse_notice(read_notice(args.notice))
        old = read_override(target)
        plan = plan_import(old, notice, source=str(target), verified_elsewhere=official_elsewhere)
    except NoticeError as e:
        raise CenterError(f"{args.notice}: {e}; nothing written") from None
    except HolidayFileError as e:
        raise CenterError(f"{e}; nothing written") from None
    print("\n".join(describe_notice(notice)))
    print("\n".join(describe_changes(plan, str(target), estimated=lambda y: not official_elsewhere(y))))
    if not plan.changed:
        print(f"nothing to write: {target} already holds {notice.year}'s schedule.")
        return 0
    if not args.yes:
        if not sys.stdin.isatty():
            raise CenterError(f"not writing {target}: there is no terminal to confirm on; check the "
                              "schedule above against the notice and run again with --yes")
        answer = input(f"write {notice.year} into {target}? [y/N] ").strip().lower()
        if answer not in ("y", "yes"):
            print("nothing written.")
            return 1
    try:
        write_override(target, plan.text)
        check_written(target, notice.year, plan.changes[0].after)
    except HolidayFileError as e:
        raise CenterError(str(e)) from None
    print(f"wrote {target}: {notice.year} is now verified (read back as the center and the tablets read it). "
          "Restart hall-center serve to count deadlines with it, and give the tablets the same file.")
    return 0


def add_calendar_import(calendar) -> None:
    s = calendar.add_parser("import", help="write a year's holidays from the State Council's notice "
                                           "(plain text) into the holiday override file")
    s.add_argument("notice", help="the notice as text (UTF-8 or GB18030), "
                                  "国务院办公厅关于<year>年部分节假日安排的通知")
    s.add_argument("--config", help="the center's TOML file: write its [center] holiday_file")
    s.add_argument("--to", metavar="FILE", help="write this override file instead (created if missing)")
    s.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    s.set_defaults(func=cmd_calendar_import)


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

    s = with_config(sub.add_parser("add-integration", help="enroll the 互联网+政务服务 platform (or another "
                                                           "integration client) and print its token once"))
    s.add_argument("name", help="1..48 of A-Za-z0-9._- (its records carry device_id integration:<name>)")
    s.add_argument("--hall", required=True, help="the hall it posts evaluations for")
    s.set_defaults(func=cmd_add_integration)

    s = with_config(sub.add_parser("qr-secret", help="generate a hall's QR check-code secret into "
                                                     "[qr] secrets_file and print it once for the queue vendor"))
    s.add_argument("hall")
    s.set_defaults(func=cmd_qr_secret)

    s = with_config(sub.add_parser("add-user", help="add a dashboard user"))
    s.add_argument("name")
    s.add_argument("--role", required=True, choices=["handler", "supervisor"])
    s.add_argument("--window", help="the handler's window")
    s.add_argument("--staff-id", help="the user's own staff id (queue system), if the user also serves "
                                      "at a window: anomaly flags about it are never shown to the user")
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

    s = with_config(sub.add_parser(
        "report", help="the assessment report (绩效考核) of a period: a table, or an XLSX file",
        description="Per department, window or staff member: evaluations by channel, 好评率, 差评率, "
                    "参评率, 差评 cases closed on time, 整改率, agreement with the 监督查评 return "
                    "visits and the rank (by 好评率, then by the number of scored evaluations; "
                    "ties share a rank). The same numbers as the dashboard's /report page."))
    s.add_argument("--from", dest="start", required=True, type=cliargs.day, metavar="YYYY-MM-DD",
                   help="first hall day of the period")
    s.add_argument("--to", dest="end", required=True, type=cliargs.day, metavar="YYYY-MM-DD",
                   help="last hall day of the period (included)")
    s.add_argument("--by", choices=["department", "window", "staff"], default="department")
    s.add_argument("--xlsx", metavar="FILE", help="write the report as an Excel file instead of "
                                                  "printing a table")
    s.set_defaults(func=cmd_report)

    calendar = sub.add_parser("calendar", help="the working-day calendar (holiday override file)")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True)
    add_calendar_import(calendar_sub)


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

    samplecli.add_parser(sub, with_config)
    upstreamcli.add_parser(sub, with_config)
    flagcli.add_parser(sub, with_config)
    auditcli.add_parser(sub, with_config)
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    handler = logging.StreamHandler()
    handler.setFormatter(HallTimeFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=logging.INFO, handlers=[handler])
    try:
        return args.func(args)
    except (ConfigError, CenterError, IntegrationError) as e:
        print(f"hall-center: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
