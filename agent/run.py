"""The agent's run loop: outbox -> center, bad reviews first, forever.

One thread, one request at a time. Each turn it looks at the clock and the
outbox and does the one thing that is due: a heartbeat (then the bundle,
agent/bundle.py), a deadline-alert check, or a batch. Between turns it sleeps `poll_interval` (200 ms) and
polls `outbox.last_change`, so a record the kiosk just put is sent within a
few hundred milliseconds. What to send and what an answer means are decided
by agent.batch and agent.answer; this module only wires them to I/O.
"""
from __future__ import annotations

import json
import logging
import os
import random
import threading
import time
from datetime import datetime
from typing import Any, Callable

from agent import __version__
from agent.alerts import OVERDUE, DeadlineAlert, auth_alert, deadline_alerts
from agent.answer import AUTH, BACKOFF, SEND, SHRINK, STOPPED, classify
from agent.batch import select_batch
from agent.bundle import BundleKeeper
from agent.config import AgentSettings
from agent.mqtt_alerts import AlertPublisher, bad_review_alert
from outbox.store import Outbox, OutboxError
from hallcore.backoff import Backoff
from agent.sender import Sender
from agent.status import heartbeat_body, read_status
from hallcore.fsutil import atomic_write_json, disk_full_path, is_disk_full
from hallcore.hallclock import hall_now
from hallcore.record import is_bad_review, parse_time

log = logging.getLogger("agent")

IDLE, SENDING, BACKING_OFF, AUTH_BLOCKED = "idle", "sending", "backoff", "auth_blocked"
STATUS_EVERY_S = 1.0        # at most this often the status is looked at ...
STATUS_REFRESH_S = 30.0     # ... and rewritten this often when nothing but the clock changed
SHOWN_QUARANTINE = 50
SHOWN_DAMAGED = 50


def _now() -> datetime:
    return hall_now()


def _iso(t: datetime | None) -> str | None:
    return t.isoformat(timespec="seconds") if t else None


class Agent:
    def __init__(self, outbox: Outbox, sender: Sender, settings: AgentSettings, *,
                 publisher: AlertPublisher | None = None, rng: random.Random | None = None,
                 monotonic: Callable[[], float] = time.monotonic, bundle: BundleKeeper | None = None):
        self.outbox, self.sender, self.settings, self.publisher = outbox, sender, settings, publisher
        self.bundle = bundle
        self.backoff = Backoff(settings.backoff_base, settings.backoff_cap, rng or random.Random())
        self.mono = monotonic
        self.state = IDLE
        self.batch_limit = settings.batch_size
        self.next_send = 0.0
        self.next_heartbeat = 0.0
        self.next_alert_check = 0.0
        self.seen_change: float | None = None
        self.seen_for_publish: float | None = None
        self.more_work = True              # something may be pending: look without waiting for a put
        self.auth_token_stamp = None
        self.last_error: str | None = None
        self.sent = {"stored": 0, "duplicate": 0, "rejected": 0}
        self._counts_dirty = True
        self._status_due = 0.0
        self._status: dict[str, Any] = {}
        self._written, self._written_at = "", 0.0
        old = read_status(settings.status_file) or {}
        # remembered across restarts so an alert is raised once, not at every start
        self.alerted: set[str] = set(old.get("alerted", []))
        self.published: set[str] = set(old.get("published", []))
        self.alerts: list[dict[str, Any]] = list(old.get("alerts", []))
        self.last_success = parse_time(old.get("last_success"))

    # ------------------------------------------------------------ the loop

    def run(self, stop: threading.Event) -> None:
        log.info("agent started", extra={"device_id": self.sender.device_id, "center": self.sender.center.url,
                                         "version": __version__})
        self.write_status(force=True)
        while not stop.is_set():
            try:
                worked = self.turn()
            except Exception as e:
                if disk_full_path(e) is not None:
                    raise      # hall-agent logs "disk full: <path>" and exits 3; systemd restarts it
                if isinstance(e, OutboxError):
                    # the outbox store was damaged under us: start-up recovery repairs it, so exit
                    # and let systemd start a fresh process (Restart=always)
                    log.critical("outbox unusable while running; exiting for start-up recovery", exc_info=True)
                    raise
                # a bug or an odd OS error must not end store-and-forward
                log.exception("unexpected error in the agent loop; carrying on")
                self._failed(f"internal error: {e!r}"[:500])
                stop.wait(self.backoff.failed())
                continue
            if not worked:
                stop.wait(self.settings.poll_interval)
        self.write_status(force=True)
        log.info("agent stopped")

    def turn(self) -> bool:
        """Do the one thing that is due; True if there may be more to do at once."""
        now = self.mono()
        if now >= self.next_heartbeat:
            self.next_heartbeat = now + self.settings.heartbeat_interval
            self.heartbeat()
            return True
        if now >= self.next_alert_check:
            self.next_alert_check = now + self.settings.alert_check_interval
            self.check_deadlines()
            return True
        self.collect_published()
        worked = False
        if self.state == AUTH_BLOCKED and self.sender.token.stamp() != self.auth_token_stamp:
            log.info("device token file changed: trying the center again")
            self.next_send = now
        change = self.outbox.last_change
        if change != self.seen_change:
            self.more_work = True
            if self.publisher is not None and change != self.seen_for_publish and now < self.next_send:
                # not sending now (center down): a dashboard still hears of a bad review at once
                self.seen_for_publish = change
                self.publish_bad_reviews(self.outbox.pending(limit=self.batch_limit))
        if self.more_work and now >= self.next_send:
            self.seen_change = change     # read before pending(): a put during the read is seen next turn
            worked = self.send_one_batch()
        self.write_status()
        return worked

    # ------------------------------------------------------------ sending

    def send_one_batch(self) -> bool:
        pending = self.outbox.pending(limit=self.batch_limit)
        self.publish_bad_reviews(pending)
        batch = select_batch(pending, limit=self.batch_limit)
        if not batch:
            self.more_work = False
            if self.state == SENDING:
                self.state = IDLE
            return False
        ids = [r["id"] for r in batch]
        reply = self.sender.send_votes(batch)
        out = classify(reply, ids)
        if out.action == STOPPED:
            return False      # cut by SIGTERM: the records stay pending, the loop ends
        now = self.mono()
        self._counts_dirty = True
        if out.action == SEND:
            if out.acknowledge:
                self.outbox.acknowledge(out.acknowledge)
            for rid, reason in out.quarantine:
                self.outbox.quarantine(rid, reason)
                log.error("record rejected by the center, quarantined", extra={"record_id": rid, "reason": reason})
            for k, v in out.counts.items():
                self.sent[k] += v
            self.backoff.succeeded()
            if self.state == AUTH_BLOCKED:
                self.alerts = [a for a in self.alerts if a.get("kind") != "auth"]
                log.info("the center accepts this device again")
            self.batch_limit = min(self.settings.batch_size, self.batch_limit * 2)
            self.last_success = _now()
            self.state = SENDING
            self.next_send = now
            log.info("batch sent", extra={"records": len(ids), "bad_reviews": sum(map(is_bad_review, batch)),
                                          **out.counts})
            return True
        self._failed(out.problem or out.action)
        if out.action == SHRINK:
            self.batch_limit = max(1, self.batch_limit // 2)
            self.next_send = now
            log.warning("center says batch too large, shrinking", extra={"batch_limit": self.batch_limit})
            return True
        if out.action == AUTH:
            self.state = AUTH_BLOCKED
            self.auth_token_stamp = self.sender.token.stamp()
            self.next_send = now + self.settings.backoff_cap
            self.raise_alert(auth_alert(out.problem, _iso(_now())), key="auth")
            # the problem says which: the center refused the token, or the file is unusable
            log.error("sending stopped: device token refused or unusable; retried when the token file "
                      "changes", extra={"problem": out.problem, "retry_in_s": self.settings.backoff_cap})
            return False
        assert out.action == BACKOFF
        wait = self.backoff.failed()
        self.state = BACKING_OFF
        self.next_send = now + wait
        if out.halve_batch:
            self.batch_limit = max(1, len(ids) // 2)
        log.warning("center unreachable or misbehaving, backing off",
                    extra={"problem": out.problem, "retry_in_s": round(wait, 3),
                           "failures": self.backoff.failures, "records": len(ids),
                           "batch_limit": self.batch_limit})
        return False

    def _failed(self, problem: str) -> None:
        self.last_error = f"{_iso(_now())} {problem}"

    # ------------------------------------------------------------ heartbeat

    def heartbeat(self) -> None:
        status = self.write_status(force=True)
        reply = self.sender.heartbeat(heartbeat_body(status))
        if reply.status == 200:
            if self.state == BACKING_OFF:
                self.next_send = self.mono()   # the center is back: do not sit out the backoff
            self.fetch_bundle()                # only once the center answered: a dead one costs one timeout
            return
        if reply.error == "stopped":
            return
        what = f"HTTP {reply.status}" if reply.status is not None else (reply.error or "connection")
        log.warning("heartbeat failed", extra={"problem": what, "detail": reply.detail})

    def fetch_bundle(self) -> None:
        """The center's bundle, if it changed (If-None-Match). Whatever happens,
        sending is not touched: no backoff, no state, no error of the loop's."""
        if self.bundle is None:
            return
        try:
            changed = self.bundle.take(self.sender.get_bundle(self.bundle.etag()))
        except Exception as e:
            if disk_full_path(e) is not None:
                raise
            log.exception("bundle handling failed; the tablet keeps the bundle it has")
            self.bundle.error = f"internal error: {e!r}"[:500]
            changed = True
        if changed:
            self.write_status(force=True)
            self.next_heartbeat = self.mono()   # tell the center now, not a heartbeat later

    # ------------------------------------------------------------ alerts

    def raise_alert(self, alert: dict[str, Any], key: str) -> None:
        if key not in {a.get("key") for a in self.alerts}:
            self.alerts.append(dict(alert, key=key))
        if self.publisher is not None:
            self.publisher.publish(alert)
        self.write_status(force=True)

    def check_deadlines(self) -> None:
        on_tablet = [(r, "pending") for r in self.outbox.pending() if is_bad_review(r)]
        on_tablet += [(q["record"], "quarantined") for q in self.outbox.quarantined()]
        still = {r["id"] for r, _ in on_tablet}
        # a bad review that reached the center no longer needs an alert on the tablet
        self.alerts = [a for a in self.alerts if a.get("kind") != "deadline" or a.get("id") in still]
        for alert in deadline_alerts(on_tablet, _now(), self.settings.alert_before, self.alerted):
            self._deadline_alert(alert)
        # forget what left the tablet, so the status file stays small
        self.alerted = {k for k in self.alerted if k.split(":", 1)[0] in still}
        self.published &= still

    def _deadline_alert(self, alert: DeadlineAlert) -> None:
        self.alerted.add(alert.key)
        self.alerts = [a for a in self.alerts if a.get("id") != alert.record_id]
        fields = {k: v for k, v in alert.as_dict().items() if k != "level"}   # "level" is the log's own
        log.error("bad review still on the tablet past its deadline" if alert.level == OVERDUE
                  else "bad review still on the tablet near its deadline",
                  extra={**fields, "alert_level": alert.level})
        self.raise_alert(alert.as_dict(), key=alert.key)

    def publish_bad_reviews(self, pending: list[dict[str, Any]]) -> None:
        if self.publisher is None:
            return
        inflight = self.publisher.pending_keys()
        for r in pending:
            if not is_bad_review(r):
                break          # pending() lists bad reviews first
            if r["id"] not in self.published and r["id"] not in inflight:
                self.publisher.publish(bad_review_alert(r), key=r["id"])

    def collect_published(self) -> None:
        if self.publisher is not None:
            done = self.publisher.delivered()
            if done:
                self.published.update(done)
                self.write_status(force=True)

    # ------------------------------------------------------------ status

    def write_status(self, force: bool = False) -> dict[str, Any]:
        now = self.mono()
        if not force and now < self._status_due and self._status.get("state") == self.state:
            return self._status
        self._status_due = now + STATUS_EVERY_S
        if self._counts_dirty or force or not self._status:
            # the head before the counts: a record is pending before the head names it,
            # so "pending 0" always covers every record up to the head
            head = self.outbox.chain_head()
            counts = self.outbox.counts()
            quarantine = self.outbox.quarantined()
            oldest = self.outbox.oldest_pending_at()
            damaged = self.outbox.damaged()
            self._counts_dirty = False
            self._status.update(
                pending=counts["pending"], archived=counts["archived"], quarantined=counts["quarantined"],
                oldest_pending=_iso(oldest), damaged=len(damaged), damaged_files=damaged[-SHOWN_DAMAGED:],
                chain_head={"seq": head.seq, "hash": head.hash},
                quarantined_ids=[q["record"]["id"] for q in quarantine[-1000:]],
                quarantine=[{"id": q["record"]["id"], "seq": q["record"].get("seq"),
                             "ticket": q["record"].get("ticket"), "window_id": q["record"].get("window_id"),
                             "bad_review": is_bad_review(q["record"]), "reason": q["reason"], "at": q["at"]}
                            for q in quarantine[-SHOWN_QUARANTINE:]])
        self._status.update(
            state=self.state, last_success=_iso(self.last_success), last_error=self.last_error,
            version=__version__, clock=_iso(_now()), pid=os.getpid(), device_id=self.sender.device_id,
            next_try_s=max(0.0, round(self.next_send - now, 1)) if self.state in (BACKING_OFF, AUTH_BLOCKED) else 0,
            sent=dict(self.sent), alerts=self.alerts, alerted=sorted(self.alerted),
            published=sorted(self.published))
        if self.bundle is not None:
            self._status.update(bundle=self.bundle.beat(), calendar=self.bundle.calendar_state(_now().date()),
                                pinned=sorted(self.bundle.tablet.pinned))
        # unchanged apart from the clock: rewrite only now and then (flash wear), but
        # well within status.STALE_AFTER_S so readers can tell a live agent from a dead one
        content = json.dumps({k: v for k, v in self._status.items() if k not in ("clock", "next_try_s")},
                             sort_keys=True, default=str)
        if not force and content == self._written and now < self._written_at + STATUS_REFRESH_S:
            return self._status
        self._written, self._written_at = content, now
        try:
            atomic_write_json(self.settings.status_file, self._status)
        except OSError as e:
            if is_disk_full(e):
                raise      # like any full disk: exit 3 (the status would go stale anyway)
            log.error("cannot write the status file", extra={"path": str(self.settings.status_file),
                                                              "problem": str(e)})
        return self._status
