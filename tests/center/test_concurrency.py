"""Several agents post overlapping batches at once to the real server:
every record is stored exactly once and every answer is stored or duplicate."""
import threading

import pytest
import requests

from tests.support.center import make_vote, start_center

CLIENTS = 6
RECORDS = 300
BATCH = 50


@pytest.fixture(params=["sqlite", "postgres"])
def server(request, tmp_path):
    db = request.getfixturevalue("pg_url") if request.param == "postgres" else None
    rc = start_center(tmp_path / "center", database=db)
    try:
        yield rc
    finally:
        rc.stop()


def test_overlapping_concurrent_batches_store_every_id_once(server):
    votes = [make_vote(server.device_id, s, bad=(s % 10 == 0)) for s in range(1, RECORDS + 1)]
    answers: list[dict] = []
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(n: int):
        # each client walks the same records from a different offset, so
        # batches overlap both across clients and across rounds
        order = votes[n * 37 % RECORDS:] + votes[:n * 37 % RECORDS]
        with requests.Session() as s:
            s.headers["Authorization"] = f"Bearer {server.token}"
            start.wait(timeout=30)
            for i in range(0, RECORDS, BATCH):
                r = s.post(server.url + "/api/v1/votes", timeout=60,
                           json={"device_id": server.device_id, "votes": order[i:i + BATCH]})
                with lock:
                    if r.status_code != 200:
                        errors.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        answers.extend(r.json()["results"])

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert errors == []
    assert len(answers) == CLIENTS * RECORDS
    stored = [a["id"] for a in answers if a["status"] == "stored"]
    assert sorted(stored) == sorted(v["id"] for v in votes)          # each stored exactly once
    assert {a["status"] for a in answers} == {"stored", "duplicate"}
    rows = server.records()
    assert [r["id"] for r in rows] == [v["id"] for v in votes]
    # the device's seq bookkeeping stays exact under concurrent batches: no gap, no repeat, no conflict
    assert server.scalar("SELECT record_count FROM devices") == RECORDS
    assert server.scalar("SELECT seq_count FROM devices") == RECORDS
    assert server.scalar("SELECT conflict_count FROM devices") == 0
    assert rows == votes
    assert server.scalar("SELECT count(*) FROM cases") == RECORDS // 10     # one case per bad review
    assert server.scalar("SELECT sum(total) FROM daily_stats") == RECORDS   # counted once
