"""Crash-test child process on a real Outbox; prints a line only after the call returned.

usage: python outbox_child.py writer|acker FOLDER DEVICE_ID

writer  puts votes in a loop (every 7th a bad review): "<id> <seq>"
acker   plays the agent: acknowledges pending records in batches of up to
        20, quarantining the first of every 5th batch: "acked <id>",
        "quarantined <id>"
"""
import sys
import time

from outbox.store import Outbox
from outbox_records import vote


def writer(box: Outbox, device: str) -> None:
    n = 0
    while True:
        rec = box.put(vote(n, device_id=device, bad=n % 7 == 3))
        print(rec["id"], rec["seq"], flush=True)
        n += 1


def acker(box: Outbox, device: str) -> None:
    rounds = 0
    while True:
        batch = box.pending(limit=20)
        if not batch:
            time.sleep(0.005)
            continue
        rounds += 1
        if rounds % 5 == 0:
            box.quarantine(batch[0]["id"], "rejected by the center (crash test)")
            print("quarantined", batch[0]["id"], flush=True)
            batch = batch[1:]
        ids = [r["id"] for r in batch]
        box.acknowledge(ids)
        for i in ids:
            print("acked", i, flush=True)


if __name__ == "__main__":
    role, folder, device = sys.argv[1:4]
    {"writer": writer, "acker": acker}[role](Outbox(folder, device), device)
