"""Crash-test child: puts votes in a loop, printing "<id> <seq>" after each put() returns.

usage: python outbox_writer.py FOLDER DEVICE_ID
"""
import sys

from agent.outbox import Outbox
from outbox_records import vote


def main() -> None:
    folder, device = sys.argv[1], sys.argv[2]
    box = Outbox(folder, device)
    n = 0
    while True:
        rec = box.put(vote(n, device_id=device, bad=n % 7 == 3))
        print(rec["id"], rec["seq"], flush=True)
        n += 1


if __name__ == "__main__":
    main()
