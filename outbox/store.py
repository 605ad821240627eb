"""The tablet's durable outbox (DESIGN.md section 5): records not yet
acknowledged by the center.

Layout of the outbox folder (README "Outbox (durability)" explains why):

    pending/<id>.json    one file per record waiting for the center (the spool)
    archive/<day>.<n>.json  TinyDB parts of acknowledged records (<= 1000 each),
                         each with a sidecar index <day>.<n>.idx (ids and seqs)
    quarantine.json      TinyDB file of records the center rejected, with reason
    seq.json             device id and a floor for the next seq
    chain.json           device id and the chain head: seq and chain hash of the
                         last record put (hallcore/chain.py); its seq is a floor too
    .last_put            symlink whose target is the last seq handed out; its
                         mtime is `last_change`
    put.lock, move.lock  flock files: puts serialise on one, acknowledge /
                         quarantine / start-up recovery on the other
    damaged/             unreadable pending files moved aside at start-up
    *.damaged            the damaged bytes of an archive part or quarantine.json that
                         start-up restored from its previous generation

The kiosk process puts; the agent process reads, acknowledges and
quarantines, at the same time. A put writes one new spool file, so the two
never write the same file; the locks order puts among themselves and moves
among themselves, and start-up recovery takes both.
"""
from __future__ import annotations

import fcntl
import json
import logging
import os
import threading
import time
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping

from outbox.archive import Archive, Quarantine, max_seq
from outbox.spool import Spool
from outbox.tinystore import StoreDamaged
from hallcore.chain import GENESIS, Head, chain_hash, is_hash, link
from hallcore.fsutil import PRIVATE, atomic_write_json, naming, restrict
from hallcore.hallclock import hall_now
from hallcore.record import FieldError, RecordError, check_record, is_bad_review, parse_time

log = logging.getLogger(__name__)

PENDING, QUARANTINED = "pending", "quarantine"   # else: the archive part's name
LAST_PUT = ".last_put"
CHAIN_FILE = "chain.json"
NO_HEAD = Head(0, GENESIS)       # the head of a device that has put nothing yet
DAMAGED_FOLDER, DAMAGED_SUFFIX = "damaged", ".damaged"


class OutboxError(Exception):
    """The outbox store cannot be used as it is; the message names the file and what to do."""


def pending_order(entry: dict[str, Any]) -> tuple[bool, int]:
    """Bad reviews first (they have a 2-working-day deadline), then oldest seq first."""
    rec = entry["record"]
    return (not is_bad_review(rec), rec["seq"])


def next_seq(own_last: int, shared_last: int | None) -> int:
    """The next seq: after every seq this or any other process handed out."""
    return max(own_last, shared_last or 0) + 1


def admit(record: Any, device_id: str, now: datetime | None = None) -> dict[str, Any]:
    """The record as an outbox of `device_id` stores it, before its seq is
    assigned: the device filled in, any seq dropped. Raises RecordError
    naming the bad fields (its times checked against the tablet's clock
    `now`); every outbox kind applies this one rule."""
    if not isinstance(record, Mapping):
        check_record(record, require_seq=False)    # raises: "expected a JSON object"
    rec = {k: v for k, v in record.items() if k != "seq"}
    if rec.get("device_id") is None:
        rec["device_id"] = device_id
    if rec["device_id"] != device_id:
        raise RecordError([FieldError("device_id", rec["device_id"],
                                      f"{device_id!r}, the device of this outbox")])
    check_record(rec, require_seq=False, now=now)
    return rec


def seal(record: Mapping[str, Any], seq: int, head: Head | None) -> tuple[dict[str, Any], Head]:
    """`record` (as `admit` returned it) numbered `seq` and chained to the
    device's `head` (None: the device's first record): the record as stored,
    schema 2, validated, and the new head. The hash covers seq, so it is
    linked after the seq is assigned; any prev_hash in `record` is replaced,
    like its seq. Every outbox kind applies this one rule."""
    linked = link({**record, "seq": seq}, head.hash if head is not None else None)
    check_record(linked)
    return linked, Head(seq, chain_hash(linked))


def _now() -> datetime:
    return hall_now()   # put_at, acked_at and the archive part's day are the hall's


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="milliseconds")


class Outbox:
    def __init__(self, folder: str | os.PathLike, device_id: str):
        self.folder = Path(folder)
        self.device_id = device_id
        self._guard = threading.RLock()
        self._closed = False
        try:
            # Owner only (kiosk and agent run as one user): the records hold phone numbers.
            self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
            for sub in ("pending", "archive"):
                (self.folder / sub).mkdir(mode=0o700, exist_ok=True)
            self._locks = {name: os.open(self.folder / f"{name}.lock", os.O_RDWR | os.O_CREAT, PRIVATE)
                           for name in ("put", "move")}
        except OSError as e:
            raise OutboxError(f"outbox folder {self.folder} cannot be used: {e}") from e
        self.spool = Spool(self.folder / "pending")
        self.archive = Archive(self.folder / "archive")
        self.quarantine_store = Quarantine(self.folder / "quarantine.json")
        self._where: dict[str, str] = {}   # record id -> PENDING / QUARANTINED / archive part
        self._last_seq = 0
        self._head: Head | None = None     # seq and hash of the last record put (None: none yet)
        #: What start-up recovery found and did (also logged as warnings).
        self.recovered: list[str] = []
        try:
            with self._guard, self._flock("put"), self._flock("move"):
                self.recovered = self._recover()
        except StoreDamaged as e:
            self.close()
            raise OutboxError(f"outbox store file {e.path} is damaged and cannot be recovered: {e.why}. "
                              f"Move it out of {self.folder} (keep it for inspection) and restart; "
                              f"records in other files are kept") from e
        except OSError as e:
            self.close()
            raise OutboxError(f"outbox {self.folder}: start-up check failed on "
                              f"{e.filename or 'a store file'}: {e.strerror or e}") from e
        except BaseException:
            self.close()
            raise
        for note in self.recovered:
            log.warning("outbox %s: recovered at start-up: %s", self.folder, note)

    # ------------------------------------------------------------ locking

    @contextmanager
    def _using(self) -> Iterator[None]:
        """The thread lock; store problems surface as OutboxError naming the file."""
        with self._guard:
            if self._closed:
                raise OutboxError(f"outbox {self.folder} is closed")
            try:
                yield
            except StoreDamaged as e:
                raise OutboxError(f"outbox store file {e.path} was damaged while running ({e.why}); "
                                  f"restart to recover it from its previous generation") from e
            except OSError as e:
                raise OutboxError(f"outbox {self.folder}: cannot read or write "
                                  f"{e.filename or 'a store file'}: {e.strerror or e}") from e

    @contextmanager
    def _flock(self, name: str) -> Iterator[None]:
        """The inter-process lock `<name>.lock` (released by the kernel if we die)."""
        fd = self._locks[name]
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    @contextmanager
    def _locked(self, name: str) -> Iterator[None]:
        with self._using(), self._flock(name):
            yield

    # ------------------------------------------------------------ start-up

    def _recover(self) -> list[str]:
        notes: list[str] = []
        tightened = 0
        for sub in (self.folder, self.spool.folder, self.archive.folder):
            for f in os.scandir(sub):
                if f.name.startswith(".") and f.name.endswith(".tmp"):
                    os.unlink(f.path)   # a write that never completed: its call never returned
                elif f.is_file(follow_symlinks=False) and restrict(f.path) is not None:
                    tightened += 1      # written by a version that made files 0644
        if tightened:
            log.info("outbox %s: %d file(s) were readable by other users; now owner and group only",
                     self.folder, tightened)
        notes += self.quarantine_store.recover()
        notes += self.archive.recover_all()
        notes += self.spool.check_all(self.folder / DAMAGED_FOLDER)
        self.archive.refresh()
        quarantined = self.quarantine_store.refresh()
        self._where = self.archive.where()
        self._where.update({d["record"]["id"]: QUARANTINED for d in quarantined})
        pending = self.spool.entries()
        moved = [e["record"]["id"] for e in pending if e["record"]["id"] in self._where]
        if moved:   # acknowledge/quarantine stopped between storing the copy and deleting the spool file
            self.spool.remove(moved)
            notes.append(f"{len(moved)} pending file(s) already archived or quarantined were removed "
                         f"(an interrupted acknowledge)")
        self._where.update({e["record"]["id"]: PENDING for e in pending if e["record"]["id"] not in self._where})
        floor, note = self._read_seq_floor()
        if note:
            notes.append(note)
        saved, chain_note = self._read_chain_head()
        if chain_note:
            notes.append(chain_note)
        self._head, head_note = self._stored_head(saved, pending, quarantined)
        if head_note:
            notes.append(head_note)
        self._last_seq = max(floor, self._head.seq if self._head else 0,
                             max_seq(pending), max_seq(quarantined), self.archive.max_seq())
        if note or self._last_seq != floor or not (self.folder / "seq.json").exists():
            self._write_seq_floor(self._last_seq)   # also records which device owns the folder
        if self._head is not None and self._head != saved:
            self._write_chain_head(self._head)
        self._publish_last_put(self._last_seq)
        return notes

    def _stored_head(self, saved: Head | None, pending: list[dict[str, Any]],
                     quarantined: list[dict[str, Any]]) -> tuple[Head | None, str | None]:
        """The chain head: chain.json's, unless a stored record has a higher seq
        (a put stopped between its record and chain.json, or an outbox that
        stored schema-1 records before this version: its first schema-2 record
        links to the last schema-1 one). Under both locks or the put lock.
        An archived record is read only when it is needed."""
        loaded = [e["record"] for e in pending] + [e["record"] for e in quarantined]
        top = max(loaded, key=lambda r: r["seq"], default=None)
        archived = self.archive.max_seq()
        top_seq = max(top["seq"] if top else 0, archived)
        if saved is not None and saved.seq >= top_seq:
            if top is not None and top["seq"] == saved.seq and chain_hash(top) != saved.hash:
                return saved, (f"the stored record at seq {saved.seq} does not hash to the chain head in "
                               f"{CHAIN_FILE} (changed on the tablet?); the chain continues from the head")
            return saved, None
        if top_seq == 0:
            return saved, None
        if archived > (top["seq"] if top else 0):
            top = (self.archive.highest() or {}).get("record", top)
        head = Head(top["seq"], chain_hash(top))
        if saved is None:
            return head, None
        return head, (f"{CHAIN_FILE} named seq {saved.seq}, a stored record has seq {top['seq']} "
                      f"(a put stopped before updating it); the chain continues from seq {top['seq']}")

    def _read_chain_head(self) -> tuple[Head | None, str | None]:
        path = self.folder / CHAIN_FILE
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None, None
        try:
            data = json.loads(raw.decode("utf-8"))
            device, seq, digest = data["device_id"], data["seq"], data["hash"]
            if (not isinstance(seq, int) or isinstance(seq, bool) or seq < 0 or not is_hash(digest)
                    or not isinstance(device, str)):
                raise ValueError("bad field types")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            return None, (f"{CHAIN_FILE} was unreadable ({len(raw)} bytes: {e}); the chain head was rebuilt "
                          f"from the stored record with the highest seq")
        if device != self.device_id:
            raise OutboxError(f"{path} says this outbox belongs to device {device!r}, not {self.device_id!r}: "
                              f"check device_id in the configuration (the chain is per device)")
        return Head(seq, digest), None

    def _write_chain_head(self, head: Head) -> None:
        atomic_write_json(self.folder / CHAIN_FILE, {"device_id": self.device_id, "seq": head.seq,
                                                     "hash": head.hash})

    def chain_head(self) -> Head:
        """The chain head after the last put by any process (what the heartbeat
        reports): seq 0 and 64 zeros if nothing was ever put. Read it before
        counting pending: a record is pending before the head names it."""
        with self._using():
            saved, _ = self._read_chain_head()
            return saved or self._head or NO_HEAD

    def _read_seq_floor(self) -> tuple[int, str | None]:
        path = self.folder / "seq.json"
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return 0, None
        try:
            data = json.loads(raw.decode("utf-8"))
            floor = data["seq_floor"]
            device = data["device_id"]
            if not isinstance(floor, int) or floor < 0 or not isinstance(device, str):
                raise ValueError("bad field types")
        except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
            return 0, (f"seq.json was unreadable ({len(raw)} bytes: {e}); next seq rebuilt from the "
                       f"highest seq stored in pending, quarantine and archive")
        if device != self.device_id:
            raise OutboxError(f"{path} says this outbox belongs to device {device!r}, not {self.device_id!r}: "
                              f"check device_id in the configuration (seq numbers are per device)")
        return floor, None

    def _write_seq_floor(self, floor: int) -> None:
        atomic_write_json(self.folder / "seq.json", {"device_id": self.device_id, "seq_floor": floor})

    # ------------------------------------------------------------ the shared seq hint

    def _shared_last_seq(self) -> int | None:
        try:
            return int(os.readlink(self.folder / LAST_PUT))
        except (OSError, ValueError):
            return None

    def _publish_last_put(self, seq: int) -> None:
        """Point .last_put at `seq` (atomic rename) and bump its mtime strictly."""
        link = self.folder / LAST_PUT
        try:
            before = os.lstat(link).st_mtime_ns
        except FileNotFoundError:
            before = 0
        tmp = self.folder / f".{LAST_PUT}.{os.getpid()}.tmp"
        try:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            os.symlink(str(seq), tmp)
            # Strictly increasing even within one clock tick, so a poller never misses a put.
            stamp = max(time.time_ns(), before + 1_000)
            os.utime(tmp, ns=(stamp, stamp), follow_symlinks=False)
            os.replace(tmp, link)
        except OSError as e:
            raise naming(e, link) from None

    @property
    def last_change(self) -> float:
        """Seconds (epoch) of the last put by any process: mtime of `.last_put`.

        One lstat, cheap enough to poll every ~200 ms; strictly increases with
        every put (it is bumped after the record's file is on disk), so
        `!=` or `>` against the previous value means "new records pending".
        Opening an Outbox on the folder also bumps it; acknowledge and
        quarantine do not. 0.0 if it cannot be read.
        """
        try:
            return os.lstat(self.folder / LAST_PUT).st_mtime
        except OSError:
            return 0.0

    # ------------------------------------------------------------ put

    def put(self, record: dict[str, Any]) -> dict[str, Any]:
        """Store `record` durably; returns it with device_id and seq, after fsync.

        Idempotent by id: a record already stored (pending, archived or
        quarantined) is returned as stored, with no new seq. A `seq` in
        `record` is ignored: the outbox assigns it. Raises RecordError
        naming the bad fields (nothing written) or OutboxError.
        """
        rec = admit(record, self.device_id, _now())
        with self._locked("put"):
            stored = self._stored(rec["id"])
            if stored is not None:
                return stored
            shared = self._shared_last_seq()
            if shared is not None and shared > self._last_seq:
                self._head = self._current_head()     # another process put since: continue its chain
            seq = next_seq(self._last_seq, shared)
            rec, head = seal(rec, seq, self._head)
            # Reserve first: if this process dies before the file lands, another
            # writer still never reuses the number (start-up recovery rewinds it).
            self._publish_last_put(seq)
            self._last_seq = seq
            try:
                self.spool.write(rec, _iso(_now()))
            except OSError:
                if self.spool.exists(rec["id"]):   # only the folder's fsync failed: seq and link are used
                    self._head = head
                else:
                    self._unreserve(seq)
                raise
            self._head = head
            self._where[rec["id"]] = PENDING
            try:
                # after the record: a crash in between leaves a record above the head,
                # which start-up recovery takes as the head (never a head without its record)
                self._write_chain_head(head)
            except OSError as e:
                log.warning("outbox %s: chain head not saved after seq %d (%s); start-up recovery "
                            "takes it from the stored record", self.folder, seq, e)
            self._publish_last_put(seq)   # now the record is on disk: tell pollers
        return dict(rec)

    def _current_head(self) -> Head | None:
        """The head as the files say (another process may have put): under the put lock."""
        saved, _ = self._read_chain_head()
        self.archive.refresh()
        head, _ = self._stored_head(saved, self.spool.entries(), self.quarantine_store.refresh())
        return head

    def _unreserve(self, seq: int) -> None:
        """A put that failed (a full disk) gives its seq back, so the retried
        put takes it and the center sees no gap. Under the put lock: no other
        put can have taken a later seq. If even this fails, the number stays
        reserved, as after a crash."""
        self._last_seq = seq - 1
        try:
            self._publish_last_put(seq - 1)
        except OSError as e:
            log.warning("outbox %s: seq %d stays reserved after a failed put: %s", self.folder, seq, e)

    def _stored(self, record_id: str) -> dict[str, Any] | None:
        if record_id not in self._where and not self.spool.exists(record_id):
            shared = self._shared_last_seq()
            if shared is None or shared <= self._last_seq:
                return None      # only this process puts: it would know the id
            self._refresh_where()   # another process puts too: look again
            if record_id not in self._where:
                return None
        e = self.spool.read(record_id)
        if e is None:
            self._refresh_where()
            where = self._where.get(record_id)
            if where == QUARANTINED:
                e = next((d for d in self.quarantine_store.refresh() if d["record"]["id"] == record_id), None)
            elif where is not None:
                e = self.archive.find(record_id, where)
        return dict(e["record"]) if e else None

    def _refresh_where(self) -> None:
        self.archive.refresh()
        where = self.archive.where()
        where.update({d["record"]["id"]: QUARANTINED for d in self.quarantine_store.refresh()})
        where.update({i: PENDING for i in self.spool.ids() if i not in where})
        self._where = where

    # ------------------------------------------------------------ agent side

    def pending(self, limit: int | None = None) -> list[dict[str, Any]]:
        """Records waiting for the center: bad reviews first, then oldest (seq) first."""
        with self._using():
            entries = sorted(self.spool.entries(), key=pending_order)
        if limit is not None:
            entries = entries[:max(limit, 0)]
        return [dict(e["record"]) for e in entries]

    def acknowledge(self, ids: Iterable[str]) -> int:
        """The center answered stored/duplicate: move these to the archive.

        Unknown or already-archived ids are ignored; returns how many left pending.
        """
        wanted = list(dict.fromkeys(ids))
        with self._locked("move"):
            entries = [e for i in wanted if (e := self.spool.read(i, still_there=True)) is not None]
            if not entries:
                return 0
            self.archive.refresh()
            archived = self.archive.where()
            fresh = [e for e in entries if e["record"]["id"] not in archived]
            if fresh:
                self._raise_seq_floor(max_seq(fresh))
                now = _now()
                self._where.update(self.archive.add(fresh, _iso(now), now.date()))
            self.spool.remove([e["record"]["id"] for e in entries])
            return len(entries)

    def quarantine(self, record_id: str, reason: str) -> None:
        """The center rejected the record: take it out of pending, keep it with reason and time.

        An id that is not pending is logged and ignored (already quarantined, or unknown).
        """
        with self._locked("move"):
            e = self.spool.read(record_id, still_there=True)
            if e is None:
                if record_id not in self.quarantine_store.ids():
                    log.warning("outbox: quarantine of %s ignored: not pending (reason given: %s)",
                                record_id, reason)
                return
            self._raise_seq_floor(e["record"]["seq"])
            self.quarantine_store.add(e, str(reason), _iso(_now()))
            self.spool.remove([record_id])
            self._where[record_id] = QUARANTINED

    def quarantined(self) -> list[dict[str, Any]]:
        """[{"record": {...}, "reason": str, "at": iso time}] in the order they were quarantined."""
        with self._using():
            docs = self.quarantine_store.refresh()
        return [{"record": dict(d["record"]), "reason": d["reason"], "at": d["at"]} for d in docs]

    def counts(self) -> dict[str, int]:
        with self._using():
            self.archive.refresh()
            return {"pending": len(self.spool.ids()),
                    "quarantined": len(self.quarantine_store.refresh()),
                    "archived": self.archive.count()}

    def damaged(self) -> list[dict[str, str]]:
        """What start-up recovery set aside, oldest first: [{"file": its path in the
        folder, "at": when it was set aside}]. A pending file in `damaged/` holds a
        record the center will not get unless someone repairs it; a `*.damaged`
        copy holds the lost last write of a store file. They stay until hall IT
        has looked at them and moves them out of the outbox folder."""
        with self._using():
            found = []
            where = [(self.folder / DAMAGED_FOLDER, None), (self.folder, DAMAGED_SUFFIX),
                     (self.archive.folder, DAMAGED_SUFFIX)]
            for folder, suffix in where:
                try:
                    names = os.listdir(folder)
                except FileNotFoundError:
                    continue
                for n in names:
                    if suffix is None or n.endswith(suffix):
                        try:
                            # ctime: the rename that set it aside (a move keeps the mtime)
                            at = os.lstat(folder / n).st_ctime
                        except FileNotFoundError:
                            continue      # removed by hall IT just now
                        found.append((at, str((folder / n).relative_to(self.folder))))
        return [{"file": f, "at": _iso(datetime.fromtimestamp(at).astimezone())} for at, f in sorted(found)]

    def oldest_pending_at(self) -> datetime | None:
        """`prompted_at` (when the citizen was asked to rate) of the earliest-prompted
        pending record, as an aware datetime; None when nothing is pending."""
        with self._using():
            times = [parse_time(e["record"]["prompted_at"]) for e in self.spool.entries()]
        return min((t for t in times if t is not None), default=None)

    def _raise_seq_floor(self, seq: int) -> None:
        """Before a record leaves pending, make sure its seq can never be handed out again."""
        floor, _ = self._read_seq_floor()
        if seq > floor:
            self._write_seq_floor(seq)

    def close(self) -> None:
        with self._guard:
            if self._closed:
                return
            self._closed = True
            for fd in getattr(self, "_locks", {}).values():
                os.close(fd)

    def __enter__(self) -> "Outbox":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
