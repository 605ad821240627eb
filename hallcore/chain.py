"""Tamper evidence: each tablet chains its records (docs/design-integrity.md).

A schema-2 record is a schema-1 record plus `prev_hash`: the chain hash of
the previous record of the same device (64 zeros for the device's first).
The chain hash of a record is SHA-256 over its canonical JSON: keys sorted,
no whitespace, UTF-8 (non-ASCII as is), integers only, the `hash` field (an
export may carry it) left out. For records (ASCII keys, no floats) that is
RFC 8785 (JCS), so an inspector can recompute it with any JSON library.

`verify_chain` checks the stored records of every device against each
other and against the chain head the tablet reports in its heartbeat, and
names each missing, altered or inserted record. Pure: no I/O, no clock.
"""
from __future__ import annotations

import bisect
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

CHAINED_SCHEMA = 2
PREV_FIELD = "prev_hash"
HASH_FIELD = "hash"             # never hashed: an export may add each record's hash beside it
GENESIS = "0" * 64              # prev_hash of a device's first chained record
_HEX64 = re.compile(r"[0-9a-f]{64}")

FINDING_KINDS = ("missing", "altered", "inserted", "head_mismatch", "unchained")
FINDING_LABELS = {
    "missing": "记录缺失",
    "altered": "记录被改动",
    "inserted": "记录被插入",
    "head_mismatch": "与平板报告的链头不符",
    "unchained": "未链接（schema 1 平板）",
}


class ChainError(ValueError):
    """A value that has no canonical form (a float, a non-string key, a lone surrogate)."""


def _plain(value: Any, where: str) -> None:
    # Records hold only these; a float has no single canonical text across languages.
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise ChainError(f"{where}: key {k!r} is not a string")
            _plain(v, f"{where}.{k}")
        return
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _plain(v, f"{where}[{i}]")
        return
    raise ChainError(f"{where}: {type(value).__name__} {value!r} has no canonical JSON form here "
                     "(records hold only strings, integers, booleans, null, lists and objects)")


def canonical(record: Mapping[str, Any]) -> bytes:
    """The bytes the chain hash covers: sorted keys, no whitespace, UTF-8, without `hash`."""
    body = {k: v for k, v in record.items() if k != HASH_FIELD}
    for k, v in body.items():
        # fast path: a record's values are almost all flat
        if type(k) is not str or not (v is None or type(v) in (str, int, bool)):
            _plain({k: v}, "record")
    try:
        return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                          allow_nan=False).encode("utf-8")
    except UnicodeEncodeError as e:
        raise ChainError(f"record: text that is not UTF-8 ({e.reason})") from None


def chain_hash(record: Mapping[str, Any]) -> str:
    """SHA-256 (lowercase hex) of the record's canonical JSON."""
    return hashlib.sha256(canonical(record)).hexdigest()


def is_hash(value: Any) -> bool:
    return isinstance(value, str) and _HEX64.fullmatch(value) is not None


def link(record: Mapping[str, Any], prev_hash: str | None) -> dict[str, Any]:
    """`record` as schema 2 chained to `prev_hash` (None: the device's first record).

    The outbox calls it in `put` after assigning seq (the hash covers seq),
    then keeps `chain_hash(result)` as the device's new head.
    """
    prev = GENESIS if prev_hash is None else prev_hash
    if not is_hash(prev):
        raise ChainError(f"prev_hash={prev!r}: expected 64 lowercase hex digits")
    return {**record, "schema": CHAINED_SCHEMA, PREV_FIELD: prev}


def is_chained(record: Mapping[str, Any]) -> bool:
    s = record.get("schema")
    return isinstance(s, int) and not isinstance(s, bool) and s >= CHAINED_SCHEMA


# ------------------------------------------------------------------ verifying

@dataclass(frozen=True)
class Head:
    """The chain head a tablet reports in its heartbeat."""
    seq: int
    hash: str
    pending: int | None = None      # records still on the tablet, if the heartbeat says


@dataclass(frozen=True)
class Finding:
    kind: str                       # one of FINDING_KINDS
    device_id: str
    seq: int | None                 # the record's seq (for missing: the first missing seq)
    record_id: str | None = None    # the record named (None for missing)
    seq_to: int | None = None       # last seq of a range (missing, unchained)
    count: int = 1                  # records covered (unchained) or at least missing
    others: tuple[str, ...] = ()    # related record ids: the successor, the other claimant
    detail: str = ""

    @property
    def error(self) -> bool:
        """Everything but `unchained` means the stored records cannot be trusted as they are."""
        return self.kind != "unchained"

    @property
    def label(self) -> str:
        return FINDING_LABELS[self.kind]


def failed(findings: Iterable[Finding]) -> bool:
    """True if any finding is an error (`hall-center audit` then exits non-zero)."""
    return any(f.error for f in findings)


@dataclass(frozen=True, slots=True)
class Link:
    """What verifying needs of one stored record (its body can be dropped:
    a device may have hundreds of thousands of records)."""
    id: str
    seq: int
    hash: str
    prev: str | None                # the record's prev_hash ("" if unusable); None: schema 1


def link_of(record: Mapping[str, Any]) -> Link:
    """The record's Link; raises ChainError if it has no canonical form or no integer seq."""
    # a chained record without a usable prev_hash links to nothing ("" is no hash)
    return Link(str(record.get("id")), _seq(record), chain_hash(record),
                (record.get(PREV_FIELD) or "") if is_chained(record) else None)


@dataclass(eq=False, slots=True)
class _Node:
    id: str
    seq: int
    hash: str
    prev: str | None                # None: a schema-1 record (no link of its own)
    pred: "_Node | None" = None
    kids: list["_Node"] | None = None


def _seq(r: Mapping[str, Any]) -> int:
    s = r.get("seq")
    if not isinstance(s, int) or isinstance(s, bool):
        raise ChainError(f"record {r.get('id')!r}: seq={s!r} is not an integer")
    return s


def verify_chain(records: Iterable[Mapping[str, Any]],
                 reported_heads: Mapping[str, Head] | None = None) -> list[Finding]:
    """Every finding about the stored records of each device, by device then seq.

    `records`: the stored records (any order; they are sorted by seq per
    device). `reported_heads`: device id → the head of its last heartbeat.
    """
    by_device: dict[str, list[Mapping[str, Any]]] = {}
    for r in records:
        by_device.setdefault(str(r.get("device_id")), []).append(r)
    heads = dict(reported_heads or {})
    out: list[Finding] = []
    for device in sorted(set(by_device) | set(heads)):
        out.extend(verify_device(device, [link_of(r) for r in by_device.get(device, [])], heads.get(device)))
    return out


def verify_device(device: str, links: Iterable[Link], head: Head | None = None) -> list[Finding]:
    """verify_chain for one device's records, given as their Links (any order):
    what `hall-center audit` uses to read one device at a time."""
    nodes = sorted((_Node(n.id, n.seq, n.hash, n.prev) for n in links), key=lambda n: (n.seq, n.id))
    found: list[Finding] = []
    plain = [n for n in nodes if n.prev is None]
    chained = [n for n in nodes if n.prev is not None]
    first_chained = chained[0].seq if chained else None

    # schema-1 records: runs before the device started chaining are "unchained";
    # one after it is not something a chaining tablet writes
    run: list[_Node] = []
    for n in plain:
        if first_chained is not None and n.seq > first_chained:
            found.append(Finding("inserted", device, n.seq, n.id,
                                 detail="schema-1 record after the device began chaining"))
            continue
        run.append(n)
    if run:
        found.append(_unchained(device, run[0].seq, run[-1].seq, len(run)))
    if not chained:
        found.extend(_head_without_chain(device, run[-1].seq if run else 0, head))
        return sorted(found, key=_order)

    last_plain = run[-1] if run else None
    # a chained record links to the one before it: a chained one, or the last
    # schema-1 record of an upgraded tablet
    by_hash = {n.hash: n for n in chained}
    if last_plain is not None:
        by_hash.setdefault(last_plain.hash, last_plain)
    for n in nodes:
        n.kids = []
    for n in chained:
        p = by_hash.get(n.prev) if is_hash(n.prev) else None
        if p is not None and p.seq < n.seq:      # a chain's seq only grows
            n.pred = p
            p.kids.append(n)

    head_node = by_hash.get(head.hash) if head is not None else None
    genuine = set()                               # ids on the path to the reported head
    walk, steps = head_node, 0
    while walk is not None and steps <= len(nodes):
        genuine.add(walk.id)
        walk, steps = walk.pred, steps + 1

    # depth: the longest run of successors below a record (nodes in decreasing seq)
    depth: dict[str, int] = {}
    for n in reversed(nodes):
        depth[n.id] = 1 + max((depth[k.id] for k in (n.kids or ())), default=0)

    removed: set[str] = set()
    for parent in nodes:
        kids = [k for k in parent.kids if k.id not in removed]
        if parent.id in removed or len(kids) < 2:
            continue
        keep = [k for k in kids if k.id in genuine]
        if not keep:
            deepest = max(depth[k.id] for k in kids)
            keep = [k for k in kids if depth[k.id] == deepest]
        chosen = keep[0]
        if len(keep) > 1:
            # nothing tells which one the tablet wrote: name them all, once
            ids = tuple(k.id for k in keep)
            found.append(Finding("inserted", device, chosen.seq, None, others=ids,
                                 detail=f"records {', '.join(ids)} all claim seq {parent.seq} "
                                        "as their predecessor: all but one are inserted"))
        for k in kids:
            if k is chosen:
                continue
            for gone in _subtree(k):
                removed.add(gone.id)
                if k not in keep:
                    found.append(Finding("inserted", device, gone.seq, gone.id, others=(chosen.id,),
                                         detail=f"claims the same predecessor as record {chosen.id}"
                                         if gone is k else "continues an inserted record"))
        parent.kids = [chosen]

    live = [n for n in chained if n.id not in removed]
    segments = _segments(live)
    # the longest segments form the chain; a segment inside another's seq span is inserted
    ranked = sorted(segments, key=lambda s: (not any(n.id in genuine for n in s), -len(s), s[0].seq, s[0].id))
    starts: list[int] = []                        # accepted segments: disjoint, kept sorted by seq
    accepted: list[list[_Node]] = []
    for seg in ranked:
        lo, hi = seg[0].seq, seg[-1].seq
        i = bisect.bisect_right(starts, hi) - 1    # the last accepted one starting at or before hi
        if i >= 0 and accepted[i][-1].seq >= lo:
            for n in seg:
                found.append(Finding("inserted", device, n.seq, n.id,
                                     detail="its seq lies inside the chain, which does not lead through it"))
            continue
        starts.insert(i + 1, lo)
        accepted.insert(i + 1, seg)

    found.extend(_check_start(device, accepted[0][0], last_plain))
    for i, (a, b) in enumerate(zip(accepted, accepted[1:])):
        end, nxt = a[-1], b[0]
        if nxt.seq > end.seq + 1:
            found.append(_missing(device, end.seq + 1, nxt))
        elif end.id in genuine:
            # the tablet's head vouches for `end`, so the records after it are the suspects
            for n in b:
                found.append(Finding("inserted", device, n.seq, n.id, others=(end.id,),
                                     detail=f"does not continue seq {end.seq}, the head the tablet reported"
                                     if n is nxt else "continues an inserted record"))
        else:
            # one broken link, one record named: `end` (its content changed), unless
            # `nxt` stands alone broken on both sides too: then one change to nxt's
            # prev_hash explains both links
            after = accepted[i + 2][0] if i + 2 < len(accepted) else None
            lone = len(b) == 1 and after is not None and after.seq == nxt.seq + 1
            if lone:
                found.append(Finding("altered", device, nxt.seq, nxt.id, others=(end.id, after.id),
                                     detail=f"its prev_hash is not seq {end.seq}'s hash and its hash "
                                            f"is not seq {after.seq}'s prev_hash"))
            else:
                found.append(Finding("altered", device, end.seq, end.id, others=(nxt.id,),
                                     detail=f"its hash does not match the prev_hash of seq {nxt.seq}: "
                                            "this record was altered (or the next one was)"))

    if head is not None:
        found.extend(_check_head(device, head, accepted))
    return _once(found)


def _once(found: list[Finding]) -> list[Finding]:
    """Sorted, each record named at most once per kind (the first reason kept)."""
    seen, out = set(), []
    for f in sorted(found, key=_order):
        key = (f.kind, f.seq, f.record_id) if f.record_id else id(f)
        if key not in seen:
            seen.add(key)
            out.append(f)
    return out


def _check_start(device: str, start: _Node, last_plain: _Node | None) -> list[Finding]:
    """The first record of the chain: linked to the last schema-1 record, or 64 zeros."""
    if start.pred is not None:
        return []
    first = last_plain.seq + 1 if last_plain is not None else 1
    if start.prev == GENESIS:
        if last_plain is None and start.seq > 1:
            return [_missing(device, 1, start, "before the device's first chained record")]
        return []
    if start.seq > first:
        return [_missing(device, first, start)]
    if last_plain is not None:
        return [Finding("altered", device, last_plain.seq, last_plain.id, others=(start.id,),
                        detail=f"its hash does not match the prev_hash of seq {start.seq}, "
                               "the first chained record")]
    return [Finding("altered", device, start.seq, start.id,
                    detail="the device's first record must have 64 zeros as prev_hash")]


def _subtree(root: _Node) -> list[_Node]:
    out, todo = [], [root]
    while todo:                                   # bounded: each node has one parent
        n = todo.pop()
        out.append(n)
        todo.extend(n.kids or ())
    return out


def _segments(live: list[_Node]) -> list[list[_Node]]:
    """Maximal linked runs: each starts where the predecessor is not a live chained record."""
    ids = {n.id for n in live}
    out = []
    for n in live:
        if n.pred is not None and n.pred.id in ids:
            continue
        seg, cur = [n], n
        while True:                               # bounded: seq grows along every link
            kids = [k for k in (cur.kids or ()) if k.id in ids]
            if not kids:
                break
            cur = kids[0]
            seg.append(cur)
        out.append(seg)
    return out


def _missing(device: str, first: int, successor: _Node, why: str = "") -> Finding:
    last = successor.seq - 1
    return Finding("missing", device, first, None, seq_to=last, count=last - first + 1,
                   others=(successor.id,),
                   detail=f"seq {first}–{last} not stored" + (f" ({why})" if why else
                          f"; seq {successor.seq}'s prev_hash names a record the center does not have"))


def _check_head(device: str, head: Head, accepted: list[list[_Node]]) -> list[Finding]:
    at = [n for seg in accepted if seg[0].seq <= head.seq <= seg[-1].seq for n in seg if n.seq == head.seq]
    top = accepted[-1][-1].seq
    if at:
        n = at[0]
        if n.hash != head.hash:
            return [Finding("head_mismatch", device, head.seq, n.id,
                            detail=f"the tablet's head at seq {head.seq} is {head.hash[:12]}…, "
                                   f"the stored record hashes to {n.hash[:12]}…")]
        return []
    # past the chain with records pending: still on the tablet; inside a gap: reported as missing
    return _head_past(device, head, top)


def _head_past(device: str, head: Head, top: int) -> list[Finding]:
    if head.seq > top and head.pending == 0:
        return [Finding("missing", device, top + 1, None, seq_to=head.seq, count=head.seq - top,
                        detail=f"the tablet's head is seq {head.seq} and it has nothing pending, "
                               f"but the center's chain ends at seq {top}")]
    return []


def _unchained(device: str, first: int, last: int, count: int) -> Finding:
    return Finding("unchained", device, first, seq_to=last, count=count,
                   detail="records of a schema-1 tablet carry no chain")


def _head_without_chain(device: str, top: int, head: Head | None) -> list[Finding]:
    if head is None or head.seq < 1:
        return []
    if head.seq > top and head.pending == 0:
        return [Finding("missing", device, top + 1, None, seq_to=head.seq, count=head.seq - top,
                        detail=f"the tablet reports a chain up to seq {head.seq}, "
                               "the center has none of its chained records")]
    return []


class LinearChain:
    """One device's Links fed in seq order, in constant memory: either they
    form one unbroken chain, and `findings()` is what `verify_device` would
    report (only `unchained` and a head past the stored records), or
    `findings()` is None and only `verify_device`, which holds every Link,
    can say what is wrong. `hall-center audit` walks each device this way
    first, so an intact device of any size costs no memory."""

    def __init__(self, device: str, head: Head | None = None):
        self.device, self.head = device, head
        self.broken = False
        self.last: Link | None = None
        self.chained = 0
        self.plain: tuple[int, int, int] | None = None      # first seq, last seq, count

    def add(self, n: Link) -> None:
        if self.broken:
            return
        last, head = self.last, self.head
        if last is not None and n.seq <= last.seq:
            self.broken = True                  # a repeated seq (or not in seq order)
        elif n.prev is None:
            if self.chained:
                self.broken = True              # schema 1 after the chain began
            else:
                first, _, count = self.plain or (n.seq, n.seq, 0)
                self.plain = (first, n.seq, count + 1)
        else:
            if self.chained:
                ok = n.prev == last.hash
            elif last is None:
                ok = n.prev == GENESIS and n.seq == 1
            else:                               # an upgraded tablet: its last schema-1 record, or zeros
                ok = n.prev in (GENESIS, last.hash)
            if not ok or (head is not None and n.seq == head.seq and n.hash != head.hash):
                self.broken = True
            self.chained += 1
        self.last = n

    def findings(self) -> list[Finding] | None:
        if self.broken:
            return None
        out = [_unchained(self.device, *self.plain)] if self.plain else []
        top = self.last.seq if self.last is not None else 0
        if not self.chained:
            out += _head_without_chain(self.device, top, self.head)
        elif self.head is not None:
            out += _head_past(self.device, self.head, top)
        return sorted(out, key=_order)


def _order(f: Finding) -> tuple:
    return (f.device_id, f.seq if f.seq is not None else -1, FINDING_KINDS.index(f.kind), f.record_id or "")


__all__ = ["CHAINED_SCHEMA", "ChainError", "FINDING_KINDS", "FINDING_LABELS", "Finding", "GENESIS",
           "HASH_FIELD", "Head", "Link", "LinearChain", "PREV_FIELD", "canonical", "chain_hash", "failed", "is_chained",
           "is_hash", "link", "link_of", "verify_chain", "verify_device"]
