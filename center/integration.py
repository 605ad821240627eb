"""Evaluations from the county's 互联网+政务服务 platform (DESIGN.md section 4.8).

An integration client is enrolled for one hall (`hall-center add-integration
NAME --hall H`) and posts schema-1 records through
POST /api/v1/integration/evaluations. The records are the tablets' schema
with the channel the platform used (center/channels.py, source
"integration": never hall_tablet), `device_id` "integration:<name>" and
`seq` the client's own counter (1, 2, 3 … per client), so the center sees a
lost record the way it sees a tablet's. Everything else is ingest's: the
same checks, idempotency by id, conflicts kept, per-id answers, a bad review
opens a case.
"""
from __future__ import annotations

import logging
import re
from datetime import datetime

from sqlalchemy import case as sql_case, insert, select, update
from sqlalchemy.exc import IntegrityError

from hallcore.hallclock import to_db

from .auth import new_device_token, token_hash
from .db import integration_clients
from .ingest import Verdict, Written
from .sqlutil import read_connection

log = logging.getLogger("center.integration")

PREFIX = "integration:"
_NAME = re.compile(r"[A-Za-z0-9._-]{1,48}")


def device_id_of(name: str) -> str:
    """The `device_id` an integration client's records carry."""
    return PREFIX + name


class IntegrationError(ValueError):
    """An enrollment the center refuses, with the reason for the operator."""


def add_client(center, name: str, hall_id: str) -> str:
    """Enroll a client for a hall; returns its token (shown once, only the hash is kept)."""
    if not _NAME.fullmatch(name or ""):
        raise IntegrationError(f"integration name must be 1..48 of A-Za-z0-9._-, got {name!r}")
    if not hall_id or not hall_id.strip() or len(hall_id) > 64:
        raise IntegrationError(f"hall must be 1..64 characters, got {hall_id!r}")
    token = new_device_token()
    try:
        with center.engine.begin() as conn:
            conn.execute(insert(integration_clients).values(
                name=name, hall_id=hall_id, token_hash=token_hash(token), created_at=to_db(center.clock()),
                record_count=0, max_seq=0, seq_count=0, conflict_count=0, rejected_count=0))
    except IntegrityError:
        raise IntegrationError(f"integration client {name!r} already exists") from None
    log.info("integration client %s enrolled for hall %s", name, hall_id)
    return token


def client_for_token(center, token: str):
    """(name, hall_id) of the client whose token this is, or None."""
    with read_connection(center.engine) as conn:
        row = conn.execute(select(integration_clients.c.name, integration_clients.c.hall_id)
                           .where(integration_clients.c.token_hash == token_hash(token))).first()
    return tuple(row) if row else None


class IntegrationSender:
    """ingest's sender for an integration client: records must name its hall
    (and the center's region when one is set); any window of that hall."""
    source = "integration"

    def __init__(self, name: str, hall_id: str):
        self.name, self.hall_id = name, hall_id
        self.device_id = device_id_of(name)

    def check(self, conn, center, verdicts: list[Verdict]) -> None:
        c = integration_clients.c
        # one batch of a client at a time: exact seq counts
        row = conn.execute(select(c.max_seq).where(c.name == self.name).with_for_update()).first()
        if row is None:
            raise RuntimeError(f"integration client {self.name!r} authenticated but not enrolled")
        self.max_seq = row.max_seq
        region = center.cfg.region_code
        for v in verdicts:
            if v.status != "accepted":
                continue
            wrong = [f"{f} {v.record[f]!r}" for f, want in (("hall_id", self.hall_id), ("region_code", region))
                     if want is not None and v.record[f] != want]
            if wrong:
                v.status = "rejected"
                v.reason = (f"not this client's enrollment: {', '.join(wrong)}; integration client "
                            f"{self.name!r} posts for hall {self.hall_id!r}, region {region or 'any'!r}")

    def account(self, conn, w: Written, rejected: int, now: datetime) -> None:
        c = integration_clients.c
        conn.execute(update(integration_clients).where(c.name == self.name).values(
            record_count=c.record_count + w.stored,
            seq_count=c.seq_count + len(w.new_seqs),
            conflict_count=c.conflict_count + len(w.conflicts),
            rejected_count=c.rejected_count + rejected,
            max_seq=sql_case((c.max_seq < w.max_seq, w.max_seq), else_=c.max_seq),
            last_post_at=to_db(now)))
