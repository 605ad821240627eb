"""Kill-test child: the agent's BundleKeeper applying bundles, stopped where told.

usage: python bundle_child.py MODE TABLET_TOML A.json B.json

in_write      apply B over A; the write stops half way ("HALF" printed) and waits
after_rename  apply B over A; after the rename, before the folder's fsync ("RENAMED")
loop          apply A, B, A, B ... for ever ("APPLYING" printed once)
"""
import os
import sys
import time
from pathlib import Path

from agent.answer import Reply
from agent.bundle import BundleKeeper
from hallcore.tablet import load_tablet_file


def stop_here(word: str) -> None:
    print(word, flush=True)
    while True:          # the parent kills us here
        time.sleep(60)


def main() -> None:
    mode, config, a, b = sys.argv[1], sys.argv[2], Path(sys.argv[3]).read_bytes(), Path(sys.argv[4]).read_bytes()
    _, tablet = load_tablet_file(config)
    keeper = BundleKeeper(tablet)
    if mode == "in_write":
        real = os.write

        def half_write(fd, data):
            view = memoryview(data)
            if len(view) > 1000:          # the bundle's bytes (not a log line)
                real(fd, view[: len(view) // 2])
                stop_here("HALF")
            return real(fd, data)
        os.write = half_write
    elif mode == "after_rename":
        real_replace = os.replace

        def replace_then_stop(src, dst):
            real_replace(src, dst)
            stop_here("RENAMED")
        os.replace = replace_then_stop
    if mode == "loop":
        print("APPLYING", flush=True)
        while True:
            for raw in (a, b):
                keeper.take(Reply(200, raw))
    assert keeper.take(Reply(200, b)), keeper.error
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
