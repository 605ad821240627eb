"""`hall-center audit`: each device's chain of records checked against the
stored bodies and the chain head its heartbeats reported (DESIGN.md §10.7;
the rules are hallcore/chain.py's).

One device at a time: its records are read by seq in chunks (each in a
short transaction of its own, so ingest goes on meanwhile), each body is
hashed into a `Link` and dropped, and the Links are walked in constant
memory (hallcore.chain.LinearChain). Only a device whose chain is not one
unbroken run is read a second time and given to `verify_device`, which
holds one small Link per record (about 0.6 kB; never the bodies) to name
what is missing, altered or inserted. Each record's columns
are also compared with its body: the statistics and pages read the
columns, so a change there with the body left alone is an alteration too.
The head is read before the records: a record the tablet put before its
head is then always either stored or counted as pending.

The result of each device is kept on its row (`devices.chain_audit`) for
the device page.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable, Iterator, Mapping

from sqlalchemy import select, tuple_, union, update

from hallcore.chain import (
    FINDING_KINDS, ChainError, Finding, Head, LinearChain, Link, failed, link_of, verify_device,
)
from hallcore.hallclock import to_db

from .db import devices, records
from .ingest import record_row

CHUNK = 2000                 # rows fetched at a time
KEPT_FINDINGS = 50           # findings kept on the device row for the device page
# the columns ingest derives from the body (center/ingest.py record_row); department
# comes from the directory at ingest, received_at from the center's clock
DERIVED = ("id", "device_id", "seq", "region_code", "hall_id", "window_id", "staff_id", "staff_name",
           "matter_code", "matter_name", "result", "satisfaction_code", "bad", "day", "at")
STATES = ("intact", "problems", "unchained", "empty")
STATE_LABELS = {"intact": "核验通过", "problems": "发现问题", "unchained": "未链接（schema 1 平板）",
                "empty": "尚无记录"}


@dataclass
class DeviceAudit:
    device_id: str
    head: Head | None                     # from the last heartbeat that carried one
    records: int = 0
    chained: int = 0                      # schema-2 records among them
    quarantined: int | None = None        # what the last heartbeat said
    findings: list[Finding] = field(default_factory=list)

    @property
    def problems(self) -> list[Finding]:
        return [f for f in self.findings if f.error]

    @property
    def state(self) -> str:
        if failed(self.findings):
            return "problems"
        if self.chained:
            return "intact"
        return "unchained" if self.records else "empty"


def column_problem(row: Any, body: Mapping[str, Any]) -> str | None:
    """Pure: why a stored row's columns are not what ingest derives from its body, or None."""
    try:
        expected = record_row(body, row.department, row.received_at)
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        return f"its body is not a complete record ({type(e).__name__}: {e})"
    differ = [k for k in DERIVED if expected[k] != getattr(row, k)]
    if not differ:
        return None
    return ("its columns differ from its body (" + ", ".join(differ) + "): the statistics and pages "
            "read the columns")


def _link(row: Any, body: Any, before: str | None) -> tuple[Link, str | None]:
    """The row's Link and, if its body cannot be hashed, why (it is then linked to nothing)."""
    try:
        if not isinstance(body, Mapping):
            raise ChainError(f"body is {type(body).__name__}, not a JSON object")
        link = link_of(body)
    except ChainError as e:
        return Link(str(row.id), int(row.seq), "", ""), f"its body cannot be hashed ({e})"
    if before is not None and link.prev == before:
        link = Link(link.id, link.seq, link.hash, before)     # share the string: memory per record
    return link, None


def _rows(engine, device_id: str, columns: list) -> Iterator[Any]:
    """The device's rows by (seq, id), CHUNK at a time, each chunk in a short
    transaction of its own: on SQLite every transaction of the center holds the
    write lock (BEGIN IMMEDIATE), so one long read would hold up ingest."""
    q = select(*columns).where(records.c.device_id == device_id).order_by(records.c.seq, records.c.id)
    after = None
    while True:                                       # bounded: (seq, id) grows with every chunk
        page = q if after is None else q.where(tuple_(records.c.seq, records.c.id) > after)
        with engine.connect() as conn:
            rows = conn.execute(page.limit(CHUNK)).all()
        yield from rows
        if len(rows) < CHUNK:
            return
        after = (rows[-1].seq, rows[-1].id)


def audit_device(engine, device_id: str, head: Head | None, *, quarantined: int | None = None,
                 on_body: Callable[[Mapping[str, Any]], None] | None = None) -> DeviceAudit:
    """Read one device's stored records by seq and verify them (`on_body`: each body, for an export)."""
    out = DeviceAudit(device_id, head, quarantined=quarantined)
    cols = [records.c[k] for k in DERIVED] + [records.c.department, records.c.received_at, records.c.body]
    walk = LinearChain(device_id, head)
    extra: list[Finding] = []
    for row in _rows(engine, device_id, cols):
        body = row.body
        if on_body is not None:
            on_body(body)
        link, why = _link(row, body, None)
        if why is None:
            why = column_problem(row, body)
        if why is not None:
            extra.append(Finding("altered", device_id, link.seq, link.id, detail=why))
        walk.add(link)
        out.records += 1
        out.chained += link.prev is not None
    found = walk.findings()
    if found is None:
        # not one unbroken run: read the Links again and let the full check name each record
        links: list[Link] = []
        before = None
        for row in _rows(engine, device_id, [records.c.id, records.c.seq, records.c.body]):
            link, _ = _link(row, row.body, before)
            links.append(link)
            before = link.hash
        found = verify_device(device_id, links, head)
    # the specific reason first: a record both checks name is named once, for why
    seen, unique = set(), []
    for f in sorted(extra + found, key=lambda f: (f.seq if f.seq is not None else -1,
                                                  FINDING_KINDS.index(f.kind), f.record_id or "")):
        key = (f.kind, f.seq, f.record_id) if f.record_id else id(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    out.findings = unique
    return out


def reported_heads(conn, only: str | None = None) -> dict[str, tuple[Head, int | None]]:
    """Device id -> (the chain head of its last heartbeat with one, its quarantined count)."""
    q = select(devices.c.device_id, devices.c.chain_seq, devices.c.chain_hash, devices.c.chain_pending,
               devices.c.heartbeat).where(devices.c.chain_seq.is_not(None))
    if only is not None:
        q = q.where(devices.c.device_id == only)
    out = {}
    for r in conn.execute(q):
        quarantined = (r.heartbeat or {}).get("quarantined") if isinstance(r.heartbeat, dict) else None
        out[r.device_id] = (Head(int(r.chain_seq), r.chain_hash,
                                 int(r.chain_pending) if r.chain_pending is not None else None), quarantined)
    return out


def device_ids(conn, only: str | None = None) -> list[str]:
    """Every enrolled device and every device id that has stored records (integration
    clients, the QR page), sorted; with `only`, that one if it is either."""
    if only is not None:
        known = conn.execute(select(devices.c.device_id).where(devices.c.device_id == only)).first()
        stored = conn.execute(select(records.c.id).where(records.c.device_id == only).limit(1)).first()
        return [only] if known or stored else []
    q = union(select(devices.c.device_id.label("d")), select(records.c.device_id.label("d")).distinct())
    return sorted(r[0] for r in conn.execute(q))


def finding_dict(f: Finding) -> dict[str, Any]:
    return {"kind": f.kind, "label": f.label, "device_id": f.device_id, "seq": f.seq, "seq_to": f.seq_to,
            "record_id": f.record_id, "count": f.count, "others": list(f.others), "detail": f.detail,
            "error": f.error}


def summary(a: DeviceAudit) -> dict[str, Any]:
    """What the device row keeps and `--json` prints for one device."""
    return {"device_id": a.device_id, "state": a.state, "records": a.records, "chained": a.chained,
            "head": None if a.head is None else {"seq": a.head.seq, "hash": a.head.hash,
                                                 "pending": a.head.pending},
            "problems": len(a.problems), "findings": [finding_dict(f) for f in a.findings]}


def store(conn, a: DeviceAudit, now: datetime) -> None:
    """Keep the result on the device's row (if it is an enrolled device)."""
    kept = dict(summary(a), findings=[finding_dict(f) for f in a.problems[:KEPT_FINDINGS]])
    conn.execute(update(devices).where(devices.c.device_id == a.device_id)
                 .values(chain_audited_at=to_db(now), chain_audit=kept))


def run(engine, now: datetime, only: str | None = None,
        on_body: Callable[[Mapping[str, Any]], None] | None = None) -> Iterator[DeviceAudit]:
    """Audit every device (or `only`), one at a time, keeping each result."""
    with engine.connect() as conn:
        ids = device_ids(conn, only)
    for device in ids:
        with engine.connect() as conn:               # the head first (module docstring)
            head, quarantined = reported_heads(conn, device).get(device, (None, None))
        a = audit_device(engine, device, head, quarantined=quarantined, on_body=on_body)
        with engine.begin() as conn:
            store(conn, a, now)
        yield a


# ------------------------------------------------------------ text

def _where(f: Finding) -> str:
    if f.seq is None:
        return "-"
    return f"seq {f.seq}" + (f"-{f.seq_to}" if f.seq_to is not None and f.seq_to != f.seq else "")


def finding_line(f: Finding) -> str:
    rid = f" record {f.record_id}" if f.record_id else ""
    others = f" (see {', '.join(f.others)})" if f.others and f.kind != "unchained" else ""
    return f"  {_where(f)} {f.kind}{rid}: {f.detail}{others}"


def device_lines(a: DeviceAudit) -> list[str]:
    head = (f", head seq {a.head.seq} (pending {a.head.pending if a.head.pending is not None else '?'})"
            if a.head is not None else ", no chain head reported")
    state = {"problems": f"PROBLEMS ({len(a.problems)})", "unchained": "unchained (schema 1, not an error)"}
    lines = [f"{a.device_id}: {state.get(a.state, a.state)}, {a.records} record(s), {a.chained} chained{head}"]
    lines += [finding_line(f) for f in a.findings if f.error]
    missing = any(f.kind == "missing" for f in a.problems)
    if missing and a.head is not None and a.head.pending:
        lines.append(f"  note: the tablet reported {a.head.pending} record(s) still pending: a missing seq may "
                     f"still be on the tablet (bad reviews are sent first); audit again once they are sent")
    if missing and a.quarantined:
        lines.append(f"  note: the tablet reports {a.quarantined} quarantined record(s) (rejected by the "
                     f"center, kept on the tablet): a missing seq may be one of them")
    return lines


def total_line(devices: int, with_problems: int, problems: int) -> str:
    if not with_problems:
        return f"audit: {devices} device(s), no problem found"
    return f"audit: {devices} device(s), {with_problems} with problems, {problems} problem(s) in all"


__all__ = ["DERIVED", "DeviceAudit", "STATES", "STATE_LABELS", "audit_device", "column_problem", "device_ids",
           "device_lines", "finding_dict", "reported_heads", "run", "store", "summary", "total_line"]
