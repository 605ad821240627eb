"""What the device page shows about a tablet's records: seq gaps, seqs used
twice, record ids sent again with other content (DESIGN.md section 10.5),
and the state of its chain (tamper evidence, DESIGN.md §10.7).

The counts come from the counters ingest keeps on the device row, so the
device list costs nothing per record; the lists are read for one device on
demand, through the (device_id, seq) and (device_id, id) indexes.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select

from hallcore.hallclock import from_db, show

from .db import record_conflicts, records

SHOWN = 200      # rows listed per kind on a device's page


@dataclass(frozen=True)
class SeqCounts:
    missing: int       # seqs 1..max_seq never received: lost, or still on the tablet
    repeated: int      # records stored on a seq another record already had


def seq_counts(row: Any) -> SeqCounts:
    """Pure, from a devices row: distinct seqs received, not records received,
    so seq 1, 5, 5, 5, 5 is 3 missing and 3 repeated."""
    return SeqCounts(missing=max(0, row.max_seq - row.seq_count),
                     repeated=max(0, row.record_count - row.seq_count))


@dataclass(frozen=True)
class ChainState:
    text: str                       # what the device list shows
    warn: bool = False
    problems: int = 0               # errors the last audit found (listed on the device's page)
    findings: tuple[dict[str, Any], ...] = ()
    audited: str | None = None      # when, in hall time


def chain_state(row: Any) -> ChainState:
    """Pure, from a devices row: chained (head seq; verified or not at the last
    `hall-center audit`), or unchained for a schema-1 tablet (no chain head in
    its heartbeats)."""
    audit = row.chain_audit if isinstance(row.chain_audit, dict) else None
    audited = show(from_db(row.chain_audited_at)) if audit else None
    if row.chain_seq is None:
        if audit and audit.get("state") == "problems":
            return ChainState(f"未链接，核验发现 {audit.get('problems', 0)} 处问题", True,
                              audit.get("problems", 0), tuple(audit.get("findings") or ()), audited)
        known = row.heartbeat_at is not None or audit or row.record_count
        return ChainState("未链接（schema 1 平板）" if known else "—", audited=audited)
    head = f"已链接，链头 {row.chain_seq}" if row.chain_seq else "已链接，尚无记录"
    if not audit:
        return ChainState(f"{head}，尚未核验")
    if audit.get("state") == "problems":
        n = audit.get("problems", 0)
        return ChainState(f"{head}，核验发现 {n} 处问题", True, n, tuple(audit.get("findings") or ()), audited)
    return ChainState(f"{head}，核验通过", audited=audited)


def repeated_seqs(conn, device_id: str, limit: int = SHOWN) -> list[tuple[int, list[str]]]:
    """(seq, the ids stored on it) for each seq stored more than once, lowest first."""
    seqs = [s for (s,) in conn.execute(
        select(records.c.seq).where(records.c.device_id == device_id).group_by(records.c.seq)
        .having(func.count() > 1).order_by(records.c.seq).limit(limit))]
    ids: dict[int, list[str]] = {s: [] for s in seqs}
    if seqs:
        for seq, rid in conn.execute(select(records.c.seq, records.c.id).where(
                records.c.device_id == device_id, records.c.seq.in_(seqs)).order_by(records.c.received_at)):
            ids[seq].append(rid)
    return list(ids.items())


def conflicts(conn, device_id: str, limit: int = SHOWN) -> list[dict[str, Any]]:
    """The newest copies this device sent of an already stored id with other content."""
    rows = conn.execute(select(record_conflicts).where(record_conflicts.c.device_id == device_id)
                        .order_by(record_conflicts.c.id.desc()).limit(limit))
    return [dict(record_id=r.record_id, at=show(from_db(r.received_at)), fields=r.fields,
                 seq=(r.body or {}).get("seq")) for r in rows]
