"""hall-agent: the store-and-forward process on the tablet.

    hall-agent --config /etc/hall/tablet.toml          run (systemd: hall-agent.service)
    hall-agent status --config /etc/hall/tablet.toml   print the state for hall IT
    hall-agent check --config /etc/hall/tablet.toml    validate the file and the token, then exit

Exit codes: 0 ok; 2 bad configuration (the message names the key and the
fix; for `check` also an unusable token file); 3 the tablet's storage
cannot be used: the outbox cannot be opened or became unusable, or a disk
is full (`disk full: <path>`, logged and on stderr; systemd restarts it
and it carries on once there is room); 4 another hall-agent already runs
on this storage folder; `status` exits 3 when no hall-agent runs (its
instance lock is free; 3 is "not running" for LSB init scripts and
systemctl) and 1 when it runs but is blocked or has not written its status
for 2 minutes, or the outbox holds damaged files (so monitoring can use it).
"""
from __future__ import annotations

import argparse
import errno
import fcntl
import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path

from hallcore.config import ConfigError
from hallcore.fsutil import disk_full_path, naming
from hallcore.hallclock import hall_now, set_hall_zone

log = logging.getLogger("agent")

EXIT_CONFIG, EXIT_STORAGE, EXIT_RUNNING = 2, 3, 4


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="hall-agent", description=__doc__.split("\n\n")[0])
    p.add_argument("command", nargs="?", default="run", choices=("run", "status", "check"),
                   help="run the agent (default), print its status, or check the config")
    p.add_argument("--config", required=True, help="the tablet's TOML file")
    return p


def run(cfg) -> int:
    from agent.bundle import BundleKeeper
    from agent.logs import setup_logging
    from agent.mqtt_alerts import AlertPublisher
    from outbox.store import Outbox, OutboxError
    from agent.run import Agent
    from agent.sender import Sender

    a = cfg.agent
    stop = threading.Event()
    log_full: list[str] = []

    def on_log_disk_full(path: str) -> None:    # the log file's disk is full: stop as for any other write
        log_full.append(path)
        stop.set()

    try:
        setup_logging(a.log_file, max_bytes=a.log_max_bytes, backups=a.log_backups, level=a.log_level,
                      on_disk_full=on_log_disk_full)
        lock = _single_instance(_lock_path(a))
    except OSError as e:
        return _storage_failed(e)
    if lock is None:
        print(f"hall-agent: another hall-agent is already running on {a.status_file.parent}", file=sys.stderr)
        return EXIT_RUNNING
    try:
        outbox = Outbox(cfg.outbox_folder, cfg.device_id)
    except OutboxError as e:
        return _storage_failed(e)
    sender = Sender(cfg.center, cfg.device_id)

    def on_signal(*_) -> None:
        stop.set()
        sender.abort()    # a request in flight would otherwise hold the stop for up to total_timeout
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)
    publisher = AlertPublisher(a.mqtt) if a.mqtt else None
    try:
        Agent(outbox, sender, a, publisher=publisher, bundle=BundleKeeper(cfg.tablet)).run(stop)
    except OutboxError as e:
        return _storage_failed(e)
    except OSError as e:
        if disk_full_path(e) is None:
            raise
        return _storage_failed(e)
    finally:
        if publisher:
            publisher.close()
        sender.close()
        outbox.close()
    if log_full:
        return _storage_failed(OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), log_full[0]))
    return 0


LOCK_TRIES = 10     # 0.1 s apart: `hall-agent status` holds the lock for an instant to test it


def _lock_path(a) -> Path:
    return a.status_file.parent / "agent.lock"


def _storage_failed(e: OSError | Exception) -> int:
    """One line, logged and on stderr, no traceback: `disk full: <path>` for a
    full disk, else the problem (it names the file); exit 3."""
    full = disk_full_path(e)
    line = f"disk full: {full}" if full is not None else str(e)
    log.critical(line)
    print(f"hall-agent: {line}", file=sys.stderr, flush=True)
    return EXIT_STORAGE


def _single_instance(path):
    """An exclusive flock held for the life of the process (the kernel drops it if we die)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    f = open(path, "a+")
    for attempt in range(LOCK_TRIES):
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except OSError:
            if attempt == LOCK_TRIES - 1:
                f.close()
                return None
            time.sleep(0.1)
    try:
        f.seek(0)
        f.truncate()
        f.write(f"{os.getpid()}\n")
        f.flush()
    except OSError as e:     # a full disk: flush() names no file
        try:
            f.close()
        except OSError:
            pass             # the same unwritable buffer; the descriptor is closed anyway
        raise naming(e, path) from None
    return f


def agent_running(lock_path: Path) -> bool | None:
    """Whether a hall-agent holds the instance lock: tries the same flock,
    non-blocking, and lets go at once. None: the lock file is unreadable."""
    try:
        f = open(lock_path, "rb")     # never created here: status writes nothing
    except FileNotFoundError:
        return False
    except PermissionError:
        return None
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(f, fcntl.LOCK_UN)
        return False


def status(cfg) -> int:
    from agent.status import problems, read_status, render
    st = read_status(cfg.agent.status_file)
    now = hall_now()
    running = agent_running(_lock_path(cfg.agent))
    print(render(st, now, cfg.agent.status_file, running=running))
    if running is False:
        return 3
    if st is None or problems(st, now, running=running):
        return 1
    return 0


def check(cfg) -> int:
    """What an installer wants before enabling the unit: the file is valid and
    the token is usable. Nothing is sent and nothing is opened for writing."""
    from agent.sender import TokenFile
    try:
        TokenFile(cfg.center.token_file).read()
    except (OSError, ValueError) as e:
        print(f"hall-agent: [center] token_file: {e}; write the token `hall-center add-device` printed "
              f"into it, alone", file=sys.stderr)
        return EXIT_CONFIG
    a = cfg.agent
    alerts = (f"MQTT alerts to {a.mqtt.topic} on {a.mqtt.broker.host}:{a.mqtt.broker.port}"
              if a.mqtt else "no MQTT alerts")
    print(f"{cfg.source}: valid. device {cfg.device_id}; sends {cfg.outbox_folder} to {cfg.center.url}; "
          f"token file readable; {alerts}; status file {a.status_file}")
    return 0


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    from agent.config import load_config
    try:
        cfg = load_config(args.config)
    except ConfigError as e:
        print(f"hall-agent: configuration error: {e}", file=sys.stderr)
        return EXIT_CONFIG
    set_hall_zone(cfg.tablet.timezone)   # logs, the status file and `status` in the hall's time
    return {"status": status, "check": check}.get(args.command, run)(cfg)


if __name__ == "__main__":
    sys.exit(main())
