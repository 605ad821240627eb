"""hall-center sample: draw a 监督查评 sample and print its call list, or
repeat a stored draw for audit (center/samplework.py)."""
from __future__ import annotations

import argparse
import csv
import getpass
import io
from pathlib import Path

from hallcore.record import mask_phone

from . import samplework
from .export import inert
from .sampling import MAX_SEED, SamplingError
from .service import CenterError
from .cliargs import day

DESCRIPTION = """\
监督查评: draw a random sample of the evaluated records (good and bad ratings)
of each window over a period, store it and print its call list; or repeat a
stored draw with its own seed, share and period and check that it gives the
same records."""

EPILOG = """\
forms:
  hall-center sample --config FILE --from YYYY-MM-DD --to YYYY-MM-DD
                     [--share 0.05] [--seed N] [--window W] [--by NAME] [--csv FILE]
  hall-center sample --config FILE --repeat DRAW_ID

The draw takes every rated record whose hall day lies in --from..--to
(inclusive), per window ceil(count x share) of them, at least
[supervision] min_per_window. The seed (a new random one unless --seed is
given) is printed, logged and stored with the draw: the same seed, share
and period give the same records as long as the period's records are the
same (--repeat checks it).

The call list shows 办件编号, ticket, window, staff, matter and the time of
the tablet's rating, one line per record, window by window. A tablet keeps
a phone number only with a bad review (masked here; the supervisor's
监督查评 page shows it); for the other records the citizen is found by the
办件编号 in the queue or 办件 system. Record the visits on that page.

exit status: 0 drawn, or repeated with the same records; 1 repeated with
different records (the records of the period changed since the draw, e.g.
late uploads: the population per window is printed); 2 bad input."""

CALL_COLUMNS = ("窗口", "办件编号", "取号", "工作人员", "事项", "评价时间", "联系电话", "抽样条目", "记录编号")


def _seed(value: str) -> int:
    if not value.isdigit() or int(value) > MAX_SEED:
        raise argparse.ArgumentTypeError(f"{value!r} is not a whole number from 0 to {MAX_SEED}")
    return int(value)


def add_parser(sub, with_config) -> None:
    s = with_config(sub.add_parser(
        "sample", help="监督查评: draw a sample of evaluated records for return visits, "
                       "or repeat a draw for audit",
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter))
    s.add_argument("--from", dest="start", type=day, metavar="YYYY-MM-DD",
                   help="first hall day of the period (inclusive)")
    s.add_argument("--to", dest="end", type=day, metavar="YYYY-MM-DD",
                   help="last hall day of the period (inclusive)")
    s.add_argument("--share", help="share of each window's evaluated records, 0 < share <= 1 "
                                   "(default: [supervision] share in the config, 0.05)")
    s.add_argument("--seed", type=_seed, help="the draw's seed (default: a new random one, printed)")
    s.add_argument("--window", help="draw from this window only (default: every window)")
    s.add_argument("--by", help="who draws, stored with the draw (default: the login name)")
    s.add_argument("--csv", type=Path, metavar="FILE", help="also write the call list to FILE (UTF-8 CSV)")
    s.add_argument("--repeat", type=int, metavar="DRAW_ID",
                   help="redo the stored draw DRAW_ID with its seed and check it gives the same records")
    s.set_defaults(func=cmd_sample)


def cmd_sample(args) -> int:
    from .cli import _center      # the one way a command opens the center
    if args.repeat is not None:
        extra = [f"--{n}" for n, v in (("from", args.start), ("to", args.end), ("share", args.share),
                                       ("seed", args.seed), ("window", args.window), ("by", args.by),
                                       ("csv", args.csv)) if v is not None]
        if extra:
            raise CenterError(f"--repeat takes no {', '.join(extra)}: the stored draw's are used")
        return _repeat(_center(args), args.repeat)
    if args.start is None or args.end is None:
        raise CenterError("sample needs --from and --to (or --repeat DRAW_ID); see hall-center sample --help")
    center = _center(args)
    try:
        sample_id = samplework.make_draw(center, start=args.start, end=args.end,
                                         drawn_by=args.by or _login_name(), share=args.share,
                                         seed=args.seed, window_id=args.window)
    except SamplingError as e:
        raise CenterError(str(e)) from None
    with center.engine.connect() as conn:
        s = samplework.sample(conn, sample_id)
        calls = samplework.call_list(conn, sample_id)
    print(f"draw {sample_id}: {s.period_start}..{s.period_end}"
          f"{' window ' + s.window_id if s.window_id else ''}, share {s.share}, seed {s.seed}: "
          f"{len(calls)} of {s.population} evaluated records")
    print("  per window: " + ", ".join(f"{w} {sum(1 for c in calls if c['window'] == w)}/{n}"
                                       for w, n in sorted(s.population_by_window.items())))
    rows = [_call_row(c) for c in calls]
    print("\t".join(CALL_COLUMNS))
    for r in rows:
        print("\t".join(str(x) for x in r))
    if args.csv:
        args.csv.write_text(_csv(rows), encoding="utf-8")
        print(f"call list written to {args.csv}")
    return 0


def _login_name() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):      # no LOGNAME and no passwd entry (a bare container)
        return "hall-center"


def _call_row(c) -> list:
    return [c["window"], c["case_no"], c["ticket"], c["staff"], c["matter"], c["voted"],
            mask_phone(c["phone"]) or "凭办件编号查询", c["item_id"], c["record_id"]]


def _csv(rows) -> str:
    buf = io.StringIO()
    buf.write("\ufeff")                     # spreadsheet programs read the Chinese headers right
    w = csv.writer(buf)
    w.writerow(CALL_COLUMNS)
    for r in rows:
        w.writerow([inert(x) for x in r])
    return buf.getvalue()


def _repeat(center, sample_id: int) -> int:
    try:
        a = samplework.repeat(center, sample_id)
    except KeyError:
        raise CenterError(f"no draw {sample_id}; hall-center sample --from … --to … makes one") from None
    if a.same:
        print(f"draw {sample_id} repeated with seed {a.seed}: the same {a.stored} records")
    else:
        print(f"draw {sample_id} repeated with seed {a.seed}: DIFFERENT records: "
              f"{len(a.missing)} stored but not drawn again, {len(a.added)} drawn again but not stored")
        for rid in a.missing:
            print(f"  missing {rid}")
        for rid in a.added:
            print(f"  added   {rid}")
    for w, (then, now) in a.changed_windows.items():
        print(f"  window {w}: {then} evaluated records at the draw, {now} now")
    return 0 if a.same else 1


__all__ = ["add_parser", "cmd_sample"]
