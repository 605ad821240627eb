"""Crash-test child: plays the agent, acknowledging (and now and then
quarantining) pending records in a loop; prints "acked <id>" /
"quarantined <id>" after each call returns.

usage: python outbox_acker.py FOLDER DEVICE_ID
"""
import sys
import time

from agent.outbox import Outbox


def main() -> None:
    folder, device = sys.argv[1], sys.argv[2]
    box = Outbox(folder, device)
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
    main()
