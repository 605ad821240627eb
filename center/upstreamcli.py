"""hall-center upstream: preview what the province would receive for a
record, show the push's status, and queue the records stored before
[upstream] was configured (center/upstreamwork.py)."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hallcore.hallclock import set_hall_zone, show
from hallcore.record import parse_time, validate_record

from . import upstream, upstreamwork
from .config import load_config
from .province import Province, profile_path
from .service import Center, CenterError
from .cliargs import day

DESCRIPTION = """\
The push to the provincial 好差评 system ([upstream] in the center's config):
every stored evaluation, its 整改结果 and its 二次评价 go up once, through an
outbox retried forever (the dashboard's 省平台上报 page shows the same status)."""

EPILOG = """\
forms:
  hall-center upstream preview RECORD.json (--config FILE | --profile NAME|FILE)
                               [--evaluation-no N] [--rectification TEXT --rectified-at TIME]
  hall-center upstream status --config FILE
  hall-center upstream backfill --config FILE --from YYYY-MM-DD

preview prints, as JSON, the messages the province would receive for the
record (a record as stored or sent by a tablet: one JSON object), built
with the config's [upstream] profile (and its department for the window)
or with --profile (a shipped name such as hunan-example, or a file).
backfill queues the stored records of hall days from --from on that were
never queued (those stored before [upstream] was configured), with the
整改结果 and 二次评价 of their cases; queueing again is harmless.

exit status: 0 done (status: nothing failing); 1 preview: the record does
not go up or the profile cannot map it (the reason is printed); status:
queued messages are failing; 2 bad input or config."""


def add_parser(sub, with_config) -> None:
    up = sub.add_parser("upstream", help="the push to the provincial 好差评 system: preview, status, backfill",
                        description=DESCRIPTION, epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    usub = up.add_subparsers(dest="upstream_command", required=True)
    s = usub.add_parser("preview", help="print what the province would receive for a record (JSON file)")
    s.add_argument("record", type=Path, metavar="RECORD.json")
    s.add_argument("--config", help="the center's TOML file: its [upstream] profile and departments")
    s.add_argument("--profile", help="a province profile instead: a shipped name (hunan-example) or a file")
    s.add_argument("--evaluation-no", type=int, default=1, help="评价次数 (default 1)")
    s.add_argument("--rectification", help="also show the 整改结果 message with this text")
    s.add_argument("--rectified-at", help="its time, ISO 8601 with offset (default: the record's voted_at)")
    s.set_defaults(func=cmd_preview)
    s = with_config(usub.add_parser("status", help="the backlog, what went up today, the last error"))
    s.set_defaults(func=cmd_status)
    s = with_config(usub.add_parser("backfill", help="queue the stored records of hall days from --from on "
                                                     "that were never queued"))
    s.add_argument("--from", dest="start", type=day, required=True, metavar="YYYY-MM-DD")
    s.set_defaults(func=cmd_backfill)


def _record(path: Path) -> dict:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as e:
        raise CenterError(f"cannot read {path}: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise CenterError(f"{path} is not UTF-8 (bad byte at offset {e.start})") from None
    try:
        rec = json.loads(text)
    except ValueError as e:
        raise CenterError(f"{path} is not JSON: {e}") from None
    if not isinstance(rec, dict):
        raise CenterError(f"{path} holds a JSON {type(rec).__name__}, not a record (one JSON object)")
    errs = validate_record(rec, require_seq=False)
    if errs:
        raise CenterError(f"{path} is not a valid record: " + "; ".join(str(e) for e in errs))
    return rec


def _profile(args) -> tuple[Province, str]:
    """(the profile, the record's department) from --profile or the config."""
    if args.profile:
        path = profile_path(args.profile, Path.cwd())
        if not path.is_file():
            raise CenterError(f"--profile {args.profile}: {path} is not a file (name a shipped profile such as "
                              f"hunan-example, or a profile file)")
        return Province.load(path), ""
    if not args.config:
        raise CenterError("give --config (its [upstream] profile) or --profile NAME|FILE")
    cfg = load_config(args.config)
    if cfg.upstream is None:
        raise CenterError(f"{args.config} has no [upstream] url and profile: give --profile NAME|FILE")
    set_hall_zone(cfg.timezone)
    return cfg.upstream.profile, None


def cmd_preview(args) -> int:
    rec = _record(args.record)
    profile, department = _profile(args)
    if department is None:          # the config's: the directory's name for the window, as the forwarder sends
        department = _department(args.config, rec.get("window_id", ""))
    rect = None
    if args.rectification is not None:
        at = parse_time(args.rectified_at) if args.rectified_at else parse_time(rec.get("voted_at"))
        if at is None or at.utcoffset() is None:
            raise CenterError(f"--rectified-at {args.rectified_at!r}: expected an ISO 8601 time with offset")
        rect = upstream.Rectification(args.rectification, at)
    try:
        out = upstream.preview(rec, profile, department=department, evaluation_no=args.evaluation_no,
                               rectification=rect)
    except upstream.NotUploaded as e:
        print(f"hall-center: this record does not go to the province ({e.why}): {e}", file=sys.stderr)
        return 1
    except upstream.UpstreamError as e:
        print(f"hall-center: profile {profile.name} cannot map this record: {e}", file=sys.stderr)
        return 1
    print(json.dumps(out, ensure_ascii=False, indent=2))
    return 0


def _department(config: str, window_id: str) -> str:
    from . import casework, directory_db
    center = _center_of(config)
    try:
        with center.engine.connect() as conn:
            d = directory_db.load(conn)
        return casework.window_department(d, window_id, center.cfg.department(window_id))
    finally:
        center.engine.dispose()


def _center_of(config: str) -> Center:
    cfg = load_config(config)
    set_hall_zone(cfg.timezone)
    center = Center(cfg)
    center.migrate()
    return center


def format_status(st: upstreamwork.Status, now) -> str:
    lines = []
    if st.configured:
        lines.append(f"forwarding to {st.url} (profile {st.profile})")
    else:
        lines.append("[upstream] is not configured: nothing is sent")
    pending = ", ".join(f"{k} {v}" for k, v in st.pending.items())
    lines.append(f"backlog: {st.backlog}" + (f" ({pending})" if pending else ""))
    if st.oldest_pending_at:
        lines.append(f"oldest pending: {show(st.oldest_pending_at)} ({upstreamwork.age_text(st.oldest_pending_at, now)})")
    lines.append(f"sent today: {st.sent_today}; sent in all: {st.sent_total} "
                 f"({st.already_sent_total} the province already had)")
    lines.append(f"last success: {show(st.last_sent_at) if st.last_sent_at else 'never'}")
    e = st.last_error
    if e:
        lines.append(f"last error: {show(e['at'])} {e['key']} {e['text']}"
                     + (" (sent since)" if e["resolved"] else " (still retrying)"))
    else:
        lines.append("last error: none")
    skipped = ", ".join(f"{why} {st.skipped.get(why, 0)}" for why in upstreamwork.SKIP_LABELS)
    lines.append(f"not uploaded: {skipped}")
    for f in st.failing:
        lines.append(f"  failing: {f['key']} ({f['kind']}) {f['attempts']} attempts, next "
                     f"{show(f['next_attempt_at'])}: {f['error'] or ''}")
    return "\n".join(lines)


def cmd_status(args) -> int:
    center = _center_of(args.config)
    try:
        now = center.clock()
        with center.engine.connect() as conn:
            st = upstreamwork.status(conn, now, center.cfg.upstream)
    finally:
        center.engine.dispose()
    print(format_status(st, now))
    return 1 if st.failing_now else 0


def cmd_backfill(args) -> int:
    center = _center_of(args.config)
    try:
        counts = upstreamwork.backfill(center, args.start)
    except upstream.UpstreamError as e:
        raise CenterError(str(e)) from None
    finally:
        center.engine.dispose()
    print(f"{counts['records']} stored records from {args.start} on: {counts['queued']} evaluations queued, "
          f"{counts['case_messages']} 整改结果/二次评价 queued; not uploaded: {counts['unrated']} unrated, "
          f"{counts['no_case_no']} without 办件编号, {counts['same_key']} sharing a 办件编号 already queued. "
          f"hall-center serve sends them.")
    return 0


__all__ = ["add_parser", "format_status"]
