"""Issue 14: several center instances on one PostgreSQL. Ingest is exactly
once across instances, and the daily rollup stays equal to the records
(stats.rebuild_daily_stats) under concurrent ingest.

Clients post overlapping batches (the same ids) to two instances at once:
two real `hall-center serve` processes, and two in-process Centers through
the real app. Every loop is bounded; nothing waits on the wall clock."""
from __future__ import annotations

import threading
from datetime import timedelta

import pytest
import requests
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, func, select

from center.api import create_app
from center.db import cases, daily_stats, devices, record_conflicts, records
from center.stats import rebuild_daily_stats
from tests.support.center import API_NOW, Clock, RunningCenter, free_port, make_center, make_vote, start_center

TABLETS = ("tab-03", "tab-13", "tab-23")        # all at window 03: their records share rollup rows
RECORDS = 240                                   # per tablet
BATCH = 40


TWINS = RECORDS // 8        # per tablet: records under a seq already taken (an outbox numbered two alike)


def votes_of(device_id: str) -> list[dict]:
    """A tablet's records in seq order, one in ten a bad review, one in seven
    unrated, over two staff and two matters and three days (several rollup
    rows, each written by every tablet); then TWINS more, each with another
    id on the seq of every eighth record. Only the device's row lock keeps
    seq_count exact when a twin and its first are written at once."""
    def vote(s: int) -> dict:
        return make_vote(device_id, s, bad=(s % 10 == 0), unrated=(s % 7 == 0 and s % 10 != 0),
                         staff_id=("1024", "1025")[s % 2], staff_name=("李明", "王芳")[s % 2],
                         matter=(("M1", "居民身份证换领"), ("M2", "不动产登记"))[s // 2 % 2],
                         at=API_NOW - timedelta(minutes=5 + s % 3 * 1440))
    return [vote(s) for s in range(1, RECORDS + 1)] + [vote(s) for s in range(8, RECORDS + 1, 8)]


def rounds(votes: list[dict], client: int) -> list[list[dict]]:
    """The batches one client sends: all the tablet's records from an offset
    of its own, so batches overlap across clients and instances."""
    start = client * 53 % len(votes)
    order = votes[start:] + votes[:start]
    return [order[i:i + BATCH] for i in range(0, len(order), BATCH)]


def run_clients(targets: list, timeout: float = 180) -> tuple[list[dict], list[str]]:
    """Run `targets` (callables returning answers) in threads started together."""
    answers: list[dict] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(len(targets))

    def run(target):
        start.wait(timeout=60)
        try:
            got = target()
        except Exception as e:      # noqa: BLE001 - reported by the assertion below
            got, err = [], f"{type(e).__name__}: {e}"
            with lock:
                errors.append(err)
        with lock:
            answers.extend(got)

    threads = [threading.Thread(target=run, args=(t,)) for t in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a client did not finish"
    return answers, errors


def rollup(engine) -> list[tuple]:
    """daily_stats as sorted rows, every column but its id."""
    cols = [c for c in daily_stats.c if c.name != "id"]
    with engine.connect() as conn:
        return sorted(tuple(r) for r in conn.execute(select(*cols)))


def assert_each_record_once(engine, answers: list[dict], sent: dict[str, list[dict]], clients_per_tablet: int):
    everything = [v for vs in sent.values() for v in vs]
    assert len(answers) == clients_per_tablet * len(everything)
    stored = [a["id"] for a in answers if a["status"] == "stored"]
    assert sorted(stored) == sorted(v["id"] for v in everything)          # each stored exactly once
    assert {a["status"] for a in answers} == {"stored", "duplicate"}
    with engine.connect() as conn:
        bodies = {r.id: r.body for r in conn.execute(select(records.c.id, records.c.body))}
        assert bodies == {v["id"]: v for v in everything}                  # as sent, none missing or extra
        counters = {r.device_id: (r.record_count, r.seq_count, r.max_seq, r.conflict_count)
                    for r in conn.execute(select(devices))}
        assert counters == {d: (RECORDS + TWINS, RECORDS, RECORDS, 0) for d in sent}   # distinct seqs: RECORDS
        bad = sum(1 for v in everything if v.get("rating") == "dissatisfied")
        assert conn.execute(select(func.count()).select_from(cases)).scalar() == bad   # one case each
        assert conn.execute(select(func.count()).select_from(record_conflicts)).scalar() == 0
        assert conn.execute(select(func.sum(daily_stats.c.total))).scalar() == len(everything)  # counted once
    before = rollup(engine)
    assert rebuild_daily_stats(engine) == len(everything)
    assert rollup(engine) == before                                          # the rollup equals the records


@pytest.fixture
def two_servers(tmp_path, pg_url):
    """Two `hall-center serve` processes (each with its alert worker) on one
    PostgreSQL database, TABLETS enrolled; yields (servers, tokens)."""
    first = start_center(tmp_path / "a", device_id=TABLETS[0], database=pg_url)
    servers = [first]
    try:
        tokens = {TABLETS[0]: first.token}
        for d in TABLETS[1:]:
            tokens[d] = first.add_device(d, "taojiang", "03")
        second = RunningCenter(first.config_path, first.database, free_port(), first.device_id, first.token,
                               tmp_path / "b.log")
        servers.append(second)
        second.start()
        yield servers, tokens
    finally:
        for s in servers:
            s.stop()


def test_two_instances_store_overlapping_batches_once_and_the_rollup_stays_exact(two_servers):
    servers, tokens = two_servers
    sent = {d: votes_of(d) for d in TABLETS}

    def client(device_id: str, n: int):
        def post() -> list[dict]:
            got = []
            with requests.Session() as s:
                s.headers["Authorization"] = f"Bearer {tokens[device_id]}"
                for i, batch in enumerate(rounds(sent[device_id], n)):
                    server = servers[(n + i) % 2]            # each client alternates between the instances
                    r = s.post(server.url + "/api/v1/votes", timeout=60,
                               json={"device_id": device_id, "votes": batch})
                    assert r.status_code == 200, r.text[:300]
                    got += r.json()["results"]
            return got
        return post

    answers, errors = run_clients([client(d, n) for d in TABLETS for n in range(2)])
    assert errors == []
    engine = create_engine(servers[0].database)
    try:
        assert_each_record_once(engine, answers, sent, clients_per_tablet=2)
    finally:
        engine.dispose()


def test_two_centers_in_process_store_each_record_once(tmp_path, pg_url):
    # two Center objects (two engines, two connection pools) behind two apps, as two instances are
    one = make_center(pg_url, tmp_path, clock=Clock(API_NOW))
    other = make_center(pg_url, tmp_path, clock=Clock(API_NOW))
    try:
        tokens = {d: one.add_device(d, "taojiang", "03") for d in TABLETS}
        sent = {d: votes_of(d) for d in TABLETS}
        apps = [create_app(one), create_app(other)]

        def client(device_id: str, n: int):
            def post() -> list[dict]:
                got = []
                with TestClient(apps[n % 2]) as c:           # the same ids to both instances
                    c.headers["Authorization"] = f"Bearer {tokens[device_id]}"
                    for batch in rounds(sent[device_id], n):
                        r = c.post("/api/v1/votes", json={"device_id": device_id, "votes": batch})
                        assert r.status_code == 200, r.text[:300]
                        got += r.json()["results"]
                return got
            return post

        answers, errors = run_clients([client(d, n) for d in TABLETS for n in range(4)])
        assert errors == []
        assert_each_record_once(one.engine, answers, sent, clients_per_tablet=4)
    finally:
        one.engine.dispose()
        other.engine.dispose()
