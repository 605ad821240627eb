"""center/leasing.py on both databases: a claim leases due rows; a second
claimer gets none of them until the lease ends; on PostgreSQL two claimers
locking at the same moment split the rows without overlap; an outcome is
written only by the claim that still holds the row; rows given back are due
at once."""
import threading
from datetime import datetime, timedelta

from sqlalchemy import Column, DateTime, Integer, MetaData, Table, create_engine

import pytest

from center.leasing import Claim, claim_due, finish, release

NOW = datetime(2026, 12, 2, 1, 0)


def outbox_table(url: str):
    md = MetaData()
    t = Table("work", md, Column("id", Integer, primary_key=True),
              Column("next_attempt_at", DateTime, nullable=False), Column("sent_at", DateTime))
    engine = create_engine(url)
    md.create_all(engine)
    return engine, t


def fill(engine, t, n: int, at=NOW):
    with engine.begin() as conn:
        conn.execute(t.insert(), [{"id": i, "next_attempt_at": at} for i in range(1, n + 1)])


def test_a_claim_leases_due_rows_until_the_lease_ends(db_url):
    engine, t = outbox_table(db_url)
    fill(engine, t, 3)
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == 3).values(next_attempt_at=NOW + timedelta(hours=1)))
    pending = t.c.sent_at.is_(None)
    first = claim_due(engine, t, pending=pending, now=NOW, lease_s=60)
    assert [r.id for r in first] == [1, 2]                       # 3 is not due yet
    assert claim_due(engine, t, pending=pending, now=NOW + timedelta(seconds=59), lease_s=60) == []
    again = claim_due(engine, t, pending=pending, now=NOW + timedelta(seconds=60), lease_s=60)
    assert [r.id for r in again] == [1, 2]                       # the holder died: due again
    with engine.begin() as conn:
        conn.execute(t.update().where(t.c.id == 1).values(sent_at=NOW))
    later = claim_due(engine, t, pending=pending, now=NOW + timedelta(hours=2), lease_s=60)
    assert [r.id for r in later] == [2, 3]                       # a sent row is never claimed
    engine.dispose()


def test_concurrent_claimers_on_postgresql_never_share_a_row(pg_url):
    engine, t = outbox_table(pg_url)
    fill(engine, t, 400)
    got: list[list[int]] = [[], [], [], []]
    start = threading.Barrier(len(got))

    def claimer(k: int):
        start.wait()
        for _ in range(50):                                      # bounded
            rows = claim_due(engine, t, pending=t.c.sent_at.is_(None), now=NOW, lease_s=600, limit=7)
            if not rows:
                break
            got[k].extend(r.id for r in rows)

    threads = [threading.Thread(target=claimer, args=(k,)) for k in range(len(got))]
    for th in threads:
        th.start()
    for th in threads:
        th.join(60)
    every = [i for g in got for i in g]
    assert sorted(every) == list(range(1, 401))                  # each row claimed exactly once
    assert sum(1 for g in got if g) >= 2                         # and the work was shared
    engine.dispose()


def sent_at(engine, t, i):
    with engine.connect() as conn:
        return conn.execute(t.select().where(t.c.id == i)).one()


def test_only_the_claim_that_holds_a_row_records_its_outcome(db_url):
    engine, t = outbox_table(db_url)
    fill(engine, t, 2)
    pending = t.c.sent_at.is_(None)
    first = claim_due(engine, t, pending=pending, now=NOW, lease_s=60)
    assert first.until == NOW + timedelta(seconds=60)
    assert finish(engine, t, first, 1, sent_at=NOW) is True
    # row 2: the first holder stalls past its lease, a second instance claims it
    later = NOW + timedelta(seconds=61)
    second = claim_due(engine, t, pending=pending, now=later, lease_s=60)
    assert [r.id for r in second] == [2]
    assert finish(engine, t, first, 2, sent_at=NOW) is False            # not the stale holder's
    assert sent_at(engine, t, 2).sent_at is None
    assert sent_at(engine, t, 2).next_attempt_at == second.until
    assert finish(engine, t, second, 2, sent_at=later) is True
    assert sent_at(engine, t, 2).sent_at == later
    engine.dispose()


def test_released_rows_are_due_again_at_once_but_only_the_holders(db_url):
    engine, t = outbox_table(db_url)
    fill(engine, t, 3)
    pending = t.c.sent_at.is_(None)
    first = claim_due(engine, t, pending=pending, now=NOW, lease_s=60)
    assert release(engine, t, first, [2, 3], now=NOW) == 2
    second = claim_due(engine, t, pending=pending, now=NOW + timedelta(seconds=1), lease_s=60)
    assert [r.id for r in second] == [2, 3]
    assert release(engine, t, first, [2, 3], now=NOW) == 0              # held by the second claim now
    assert release(engine, t, first, [], now=NOW) == 0
    engine.dispose()


def test_a_send_may_start_only_in_the_first_half_of_the_lease():
    assert Claim([], NOW, lease_s=3600).sendable()
    assert not Claim([], NOW, lease_s=0).sendable()


def test_a_lease_must_last(db_url):
    engine, t = outbox_table(db_url)
    with pytest.raises(ValueError):
        claim_due(engine, t, pending=t.c.sent_at.is_(None), now=NOW, lease_s=0)
    engine.dispose()
