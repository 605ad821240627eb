"""hall-center flags: run the anomaly flag scan now and print what it raised,
or list the stored flags (center/flagwork.py).

These commands read the database directly, like every hall-center command:
they are for the operator who holds the config and the database, not for
the staff the flags concern (the dashboard's 异常标记 page is supervisors'
only, and hides a flag from the staff member it names)."""
from __future__ import annotations

import argparse

from hallcore.hallclock import from_db, show

from . import flagwork
from .anomalies import KIND_LABELS
from .cliargs import day

DESCRIPTION = """\
Anomaly flags for supervisors: patterns that induced, forced or malicious
ratings leave in the records ([anomalies] in the config holds the rules'
thresholds). The server's worker scans every [anomalies] scan_every_s;
`flags scan` scans now. A flag is stored once by its key: scanning again
raises nothing new, and a dismissed flag is never raised again."""

EPILOG = """\
forms:
  hall-center flags scan --config FILE [--today YYYY-MM-DD]
  hall-center flags list --config FILE [--state open|dismissed|superseded|all]

scan judges the last ended block of [anomalies] period_days hall days with
the period rules (busy window without 差评, low 参评率, return visits
disagreeing) and every ended hall day from that block's first through
yesterday with the others (top-rating bursts, ratings before the finish,
one number on many 差评); it prints each flag it raised.

exit status: 0 done; 2 bad input."""


def add_parser(sub, with_config) -> None:
    fp = sub.add_parser("flags", help="anomaly flags for supervisors: scan now, or list them",
                        description=DESCRIPTION, epilog=EPILOG,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    fsub = fp.add_subparsers(dest="flags_command", required=True)
    s = with_config(fsub.add_parser("scan", help="run the rules now and store and print the new flags"))
    s.add_argument("--today", type=day, metavar="YYYY-MM-DD",
                   help="judge as on this hall day (default: today); e.g. to judge a past period")
    s.set_defaults(func=cmd_scan)
    s = with_config(fsub.add_parser("list", help="print the stored flags, newest first"))
    s.add_argument("--state", choices=["open", "dismissed", "superseded", "all"], default="open")
    s.set_defaults(func=cmd_list)


def _line(kind: str, subject: str, summary: str, count: int) -> str:
    return f"{KIND_LABELS.get(kind, kind)}\t{subject}\t{summary}\t({count} records)"


def cmd_scan(args) -> int:
    from .cli import _center      # the one way a command opens the center
    r = flagwork.scan(_center(args), today=args.today)
    print(f"scanned {r.first_day}..{r.last_day} (period rules: {r.period.label}): {r.records} records"
          f"{f', {r.unusable} unusable (see the log)' if r.unusable else ''}; "
          f"{r.tripped} flags tripped, {len(r.raised)} new, {r.known} already stored"
          f"{f', {r.superseded} superseded' if r.superseded else ''}")
    for f in r.raised:
        print(f"  {f.key}\t" + _line(f.kind, f.subject, f.summary, len(f.evidence)))
    return 0


def cmd_list(args) -> int:
    from .cli import _center
    center = _center(args)
    states = list(flagwork.STATE_LABELS) if args.state == "all" else [args.state]
    with center.engine.connect() as conn:
        rows = flagwork.all_rows(conn, states=states)
    print(f"{len(rows)} flag(s) {args.state}, newest first (at most {flagwork.MAX_LISTED})")
    for r in rows:
        extra = ""
        if r.state == "dismissed":
            extra = f"\tdismissed by {r.dismissed_by} at {show(from_db(r.dismissed_at))}: {r.note}"
        elif r.state == "superseded":
            extra = f"\tsuperseded by {r.superseded_by}"
        print(f"  {r.id}\t{show(from_db(r.raised_at))}\t{flagwork.when_label(r)}\t"
              + _line(r.kind, r.subject, r.summary, len(r.evidence)) + extra)
    return 0


__all__ = ["add_parser", "cmd_list", "cmd_scan"]
