"""hall-center audit: verify every device's chain of records (center/audit.py)
and optionally write the inspectors' folder (center/export.py InspectionExport)."""
from __future__ import annotations

import argparse
import json
import sys

from . import audit
from .export import InspectionExport
from .service import CenterError

DESCRIPTION = """\
Tamper evidence: each tablet chains its records (schema 2: every record
carries the hash of the device's previous record) and reports its chain head
in the heartbeat. The audit reads every device's stored records by seq,
recomputes each hash, compares each record's columns with its body, and
checks the chain against the head the tablet last reported."""

EPILOG = """\
what it reports, per device (with seq and record id):
  missing        records the chain needs that are not stored (deleted, or
                 never received: the tablet's head is past them and it has
                 nothing pending)
  altered        a record whose content no longer hashes as the tablet
                 linked it, or whose columns differ from its body
  inserted       a record the tablet's chain does not pass through
  head_mismatch  the stored record at the tablet's head does not hash to it
  unchained      records of a schema-1 tablet: no chain, not an error

--export FOLDER also writes records.jsonl (every record exactly as stored:
it holds call-back phone numbers, hand it over as confidential) and
heads.json, the folder docs/design-integrity.md §1.4 lets inspectors check
with a short Python script of their own.

exit status: 0 no problem (unchained devices included); 1 a problem found;
2 bad input (unknown device, export folder not empty)."""


def cmd_audit(args, center) -> int:
    if args.device:
        with center.engine.connect() as conn:
            if not audit.device_ids(conn, args.device):
                raise CenterError(f"no device {args.device!r}: neither enrolled nor with stored records")
    exporter = None
    if args.export:
        try:
            exporter = InspectionExport(args.export)
        except (ValueError, OSError) as e:
            raise CenterError(f"--export: {e}") from None
    out = sys.stdout
    devices = bad = problems = 0
    heads = {}
    try:
        if args.json:
            out.write('{"devices": [')
        for i, a in enumerate(audit.run(center.engine, center.clock(), args.device,
                                        on_body=exporter.add if exporter else None)):
            devices += 1
            bad += a.state == "problems"
            problems += len(a.problems)
            if a.head is not None:
                heads[a.device_id] = a.head
            if args.json:
                out.write(("" if i == 0 else ",\n") + json.dumps(audit.summary(a), ensure_ascii=False))
            else:
                out.write("\n".join(audit.device_lines(a)) + "\n")
            out.flush()
    except BaseException:
        if exporter:
            exporter.abandon()
        raise
    if exporter:
        exporter.finish(heads)
    if args.json:
        out.write(f'], "devices_with_problems": {bad}, "problems": {problems}, "ok": {json.dumps(not bad)}}}\n')
    else:
        print(audit.total_line(devices, bad, problems))
        if exporter:
            print(f"inspection folder {exporter.folder}: {exporter.count} record(s) in "
                  f"{InspectionExport.RECORDS}, {len(heads)} head(s) in {InspectionExport.HEADS}")
    return 1 if bad else 0


def add_parser(sub, with_config) -> None:
    from .cli import _center
    s = with_config(sub.add_parser("audit", help="verify every tablet's chain of records (tamper evidence); "
                                                 "exit 1 if a record is missing, altered or inserted",
                                   description=DESCRIPTION, epilog=EPILOG,
                                   formatter_class=argparse.RawDescriptionHelpFormatter))
    s.add_argument("--device", help="audit this device only")
    s.add_argument("--json", action="store_true", help="print the findings as JSON")
    s.add_argument("--export", metavar="FOLDER", help="also write the inspectors' folder (records.jsonl, "
                                                      "heads.json) into this new or empty folder")
    s.set_defaults(func=lambda args: cmd_audit(args, _center(args)))
