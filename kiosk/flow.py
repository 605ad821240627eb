"""The citizen's evaluation as a pure state machine (DESIGN.md section 2).

No Kivy, no clock, no threads: the UI passes every tap and the current time
in, renders `view`, and calls `tick(now)` a few times a second. The only
side effects go through the three objects given to the constructor: the
outbox (durable, idempotent by record id), the journal (the open evaluation,
for crash-resume) and the back-channel callback (counts only).

Screens: idle -> serving (ticket called) -> rating, one per matter -> for a
bad review reasons -> phone -> next matter or thanks -> idle.

Decisions documented here because the design leaves them open:
- Events that arrive while an evaluation is open (or its thank-you shows)
  wait in order and are replayed when it ends; a newer call supersedes an
  older waiting call (only the latest called ticket is shown), finishes and
  cancels are never dropped. A cancel of the ticket being evaluated applies
  at once: its remaining matters are recorded unrated('cancelled').
- A cancel of a ticket that was only called (a no-show) records nothing:
  no matter was served, so there is nothing to rate.
- A walk-away (no tap for timeout_s) records the current and every remaining
  matter of the ticket unrated('timeout'): nobody is there to ask. On the
  phone screen the citizen had already rated and given reasons, so that
  matter is stored rated without a phone; on the reasons screen the choice
  was never confirmed, so it is unrated('timeout') (a bad review without a
  reason cannot be recorded, and a reason is never invented).
- Unprompted remaining matters closed by timeout/cancel/interrupted carry the
  current matter's prompted_at (the schema needs one; it is when the citizen
  was last asked anything about this ticket).
- A ticket evaluated today is remembered (persisted): a replayed call,
  finish or cancel for it is ignored. Ticket numbers restart every day.
- A finish without matters is asked as one generic matter, so the citizen
  is still asked and participation is still counted.
- A tablet clock that is plainly wrong (hallcore.timebounds.clock_problem:
  before this release or before any valid record time) asks nothing: every
  record it made would carry a wrong time and be refused, so no evaluation
  is opened, the ticket is counted (`not_asked_clock_wrong`) and the problem
  is shown on the admin screen and sent in the heartbeat. The kiosk cannot
  know the real time; hall IT sets the clock.
"""
from __future__ import annotations

import logging
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from typing import Any, Callable, Protocol

from hallcore.record import (DEFAULT_BAD_REVIEW_REASONS, MAX_COMMENT, MAX_MATTERS, MAX_TEXT, OTHER_REASON,
                             Level, RecordError, is_mobile_phone, new_record, scale as get_scale)
from hallcore.timebounds import clock_problem
from hallcore.workdays import HANDLING_WORKDAYS, WorkCalendar, deadline
from kiosk.events import Matter, TicketEvent
from kiosk.journal import JournalError, JournalState, OpenEvaluation, OpenMatter
from outbox import OutboxError

log = logging.getLogger(__name__)

SCREENS = ("idle", "serving", "rating", "reasons", "phone", "thanks")
ASKING = ("rating", "reasons", "phone")
GENERIC_MATTER = Matter("", "政务服务事项")
PHONE_DIGITS = 11
MAX_PENDING = 200          # waiting events; finishes are never dropped, old calls/cancels are
STORE_RETRY = timedelta(seconds=5)   # a failing outbox is retried this often by tick(), not every tick
MAX_DONE = 5000            # tickets remembered per day for the replay guard

MSG_NEED_REASON = "请至少选择一项原因"
MSG_PHONE_INCOMPLETE = "请输入11位手机号码，或点击跳过"
MSG_STORE_FAILED = "正在保存，请稍候再试"


@dataclass(frozen=True)
class FlowSettings:
    device_id: str
    region_code: str
    hall_id: str
    window_id: str
    scale: int = 3
    reasons: tuple[str, ...] = DEFAULT_BAD_REVIEW_REASONS
    reminder_after_s: float = 30.0
    timeout_s: float = 60.0
    thanks_s: float = 3.0
    carry_over_guard_s: float = 0.3
    stale_after_s: float = 600.0
    closing: time = time(17, 30)
    calendar: WorkCalendar | None = None

    def __post_init__(self) -> None:
        get_scale(self.scale)   # raises for anything but 3 or 5
        if not self.reasons or len(set(self.reasons)) != len(self.reasons):
            raise ValueError("reasons must be a non-empty list of distinct reasons")
        if not 0 < self.reminder_after_s < self.timeout_s:
            raise ValueError("reminder_after_s must be > 0 and less than timeout_s")
        if min(self.thanks_s, self.stale_after_s) <= 0 or self.carry_over_guard_s < 0:
            raise ValueError("thanks_s and stale_after_s must be > 0, carry_over_guard_s >= 0")


@dataclass(frozen=True)
class View:
    screen: str
    window_id: str
    staff_name: str
    ticket: str | None
    matter_name: str | None
    matter_index: int          # 1-based; 0 when no matter is on screen
    matter_count: int
    levels: tuple[Level, ...]
    reasons: tuple[str, ...]
    selected_reasons: frozenset[str]
    comment: str
    phone_masked: str
    phone_complete: bool
    reminder: bool
    message: str | None
    shown_at: datetime
    serial: int


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError(f"the flow needs timezone-aware times, got {now!r}")
    return now


def _iso(t: datetime) -> str:
    return t.isoformat(timespec="seconds")


def _clip(text: str | None, limit: int = MAX_TEXT) -> str:
    return (text or "").strip()[:limit]


def mask_partial_phone(digits: str) -> str:
    """What the keypad shows while typing: digits 4-7 starred, as hallcore.record.mask_phone does."""
    return "".join("*" if 3 <= i < 7 else c for i, c in enumerate(digits))


@dataclass
class _Answer:
    """The bad review being filled in on the reasons and phone screens."""
    level: Level
    voted_at: datetime
    selected: set[str] = field(default_factory=set)
    comment: str = ""
    phone: str = ""


class RecordStore(Protocol):
    """Where the flow stores each record: the tablet's outbox (outbox.Outbox
    on disk; outbox.memory.MemoryOutbox in tests). put() returns only once the
    record is durable and is idempotent by record id; it raises RecordError
    for a record that can never be stored and anything else (OSError,
    OutboxError) for a store that failed this time."""

    def put(self, record: dict[str, Any]) -> dict[str, Any]: ...


class KioskFlow:
    def __init__(self, settings: FlowSettings, outbox: RecordStore, journal: Any,
                 on_ticket_done: Callable[[str, int, int], None], now: datetime):
        self.settings = settings
        self._scale = get_scale(settings.scale)
        self._outbox, self._journal, self._on_done = outbox, journal, on_ticket_done
        self._state = JournalState(day=_aware(now).date().isoformat())
        self._serving: TicketEvent | None = None      # called, neither finished nor cancelled
        self._called_at: dict[str, datetime] = {}      # recent calls, for the record's called_at
        self._staff_name = ""
        self._last_ticket: str | None = None           # shown on the thank-you screen
        self._answer: _Answer | None = None
        self._screen = "idle"
        self._shown_at = self._activity = now
        self._reminder = False
        self._message: str | None = None
        self.counters: Counter[str] = Counter()        # ignored events, store failures, ... (admin screen)
        self.journal_problem: str | None = None
        self.clock_problem: str | None = clock_problem(_aware(now))   # admin screen
        self._retry_at = now                            # next retry of a failed unrated close
        self._serial = 0
        self._dirty = True
        self._view: View | None = None
        self._render()

    # ------------------------------------------------------------------ public API

    @property
    def view(self) -> View:
        return self._view

    @property
    def pending_events(self) -> int:
        return len(self._state.pending)

    @property
    def idle(self) -> bool:
        """Nobody is served, asked or thanked and nothing waits: the only time
        the kiosk takes new settings (the center's bundle, DESIGN.md §4.9)."""
        return (self._screen == "idle" and self._state.open is None and self._serving is None
                and not self._state.pending)

    def apply_settings(self, settings: FlowSettings) -> None:
        """New scale, reasons, timeouts or calendar, while `idle` only: an
        evaluation never changes its questions or its clock half way."""
        if not self.idle:
            raise RuntimeError(f"settings change only while idle, not on {self._screen}")
        ours = (self.settings.device_id, self.settings.region_code, self.settings.hall_id,
                self.settings.window_id)
        if (settings.device_id, settings.region_code, settings.hall_id, settings.window_id) != ours:
            raise ValueError("new settings are for another device or window")
        self.settings, self._scale = settings, get_scale(settings.scale)
        self._dirty = True
        self._render()

    def resume(self, now: datetime) -> None:
        """At start-up: continue the journaled evaluation, or close it unrated('interrupted') if stale."""
        _aware(now)
        data = self._load_journal()
        if data is None:
            return
        ev = data.open
        self._state = JournalState(day=data.day, done=data.done)
        self._roll_day(now)
        if ev is not None:
            self._state.open = ev
            age = abs((now - datetime.fromisoformat(ev.prompted_at)).total_seconds())
            self._staff_name = ev.staff_name
            if ev.closing is None and age > self.settings.stale_after_s:
                log.warning("journaled evaluation of %s is %.0f s old: recording it interrupted", ev.ticket, age)
                ev.closing = "interrupted"
            if ev.closing is None:
                log.info("resuming evaluation of %s at matter %d/%d", ev.ticket, ev.index + 1, len(ev.matters))
                self._show("rating", now)
            else:
                self._close_remaining(now)
        for event in data.pending:
            self._handle(event, now)
        self._render()

    def on_event(self, event: TicketEvent, now: datetime) -> None:
        _aware(now)
        if event.window and event.window != self.settings.window_id:
            self._ignore("other_window", event)
        else:
            self._handle(event, now)
        self._render()

    def tap_rating(self, rating: str, now: datetime) -> bool:
        if not self._tap_allowed("rating", now):
            return False
        try:
            level = self._scale.level(rating)
        except KeyError as e:
            log.error("UI sent a rating that is not on the scale: %s", e)
            self.counters["unknown_rating"] += 1
            return False
        if level.bad:
            self._answer = _Answer(level, now)
            self._show("reasons", now)
            stored = True
        else:
            stored = self._store_current(now, rating=level.name, voted_at=now)
        self._render()
        return stored

    def toggle_reason(self, reason: str, now: datetime) -> None:
        if not self._tap_allowed("reasons", now) or reason not in self.settings.reasons:
            return
        self._answer.selected ^= {reason}
        self._touch(now)
        self._render()

    def set_comment(self, text: str, now: datetime) -> None:
        if self._screen != "reasons":
            return
        self._answer.comment = (text or "")[:MAX_COMMENT]
        self._touch(now)
        self._render()

    def confirm_reasons(self, now: datetime) -> None:
        if not self._tap_allowed("reasons", now):
            return
        a = self._answer
        self._touch(now)
        if not a.selected:
            self._message = MSG_NEED_REASON
        else:
            self._show("phone", now)
        self._render()

    def phone_key(self, key: str, now: datetime) -> None:
        if not self._tap_allowed("phone", now):
            return
        a = self._answer
        if key == "del":
            a.phone = a.phone[:-1]
        elif len(key) == 1 and key in "0123456789" and len(a.phone) < PHONE_DIGITS:
            a.phone += key
        self._touch(now)
        self._render()

    def confirm_phone(self, now: datetime) -> None:
        if not self._tap_allowed("phone", now):
            return
        if self._answer.phone and not is_mobile_phone(self._answer.phone):
            self._touch(now)
            self._message = MSG_PHONE_INCOMPLETE
        else:
            self._store_bad_review(now, self._answer.phone or None)
        self._render()

    def skip_phone(self, now: datetime) -> None:
        if self._tap_allowed("phone", now):
            self._store_bad_review(now, None)
            self._render()

    def tick(self, now: datetime) -> None:
        _aware(now)
        self.clock_problem = clock_problem(now)
        if now < self._activity or now < self._shown_at:
            # The wall clock was stepped back (NTP, RTC reset): restart the screen's
            # clocks instead of freezing taps and timeouts until it catches up.
            log.warning("clock went back %s; screen timers restarted", self._activity - now)
            self._shown_at = min(self._shown_at, now)
            self._activity = min(self._activity, now)
            self._retry_at = min(self._retry_at, now)
        ev = self._state.open
        if ev is not None and ev.closing is not None:
            if now >= self._retry_at:
                self._close_remaining(now)
        elif ev is not None and self._screen in ASKING:
            idle = (now - self._activity).total_seconds()
            if idle >= self.settings.timeout_s:
                log.info("no tap for %.0f s on %s of %s: walk-away", idle, self._screen, ev.ticket)
                # On the phone screen the answer is complete: store it without a phone.
                # If the store fails, the activity clock is untouched and the next tick retries.
                if self._screen != "phone" or self._store_bad_review(now, None):
                    if self._state.open is not None:
                        self._state.open.closing = "timeout"
                        self._close_remaining(now)
            elif idle >= self.settings.reminder_after_s and not self._reminder:
                self._reminder = True
                self._dirty = True
        elif self._screen == "thanks" and (now - self._shown_at).total_seconds() >= self.settings.thanks_s:
            self._after_ticket(now)
        elif not self._busy() and self._state.pending:
            self._drain(now)   # not while the thank-you shows: each tick would queue them again
        self._render()

    # ------------------------------------------------------------------ events

    def _busy(self) -> bool:
        return self._state.open is not None or self._screen == "thanks"

    def _handle(self, event: TicketEvent, now: datetime, *, waited: bool = False) -> None:
        st = self._state
        self._roll_day(now)
        if event.ticket in st.done:
            return self._ignore("replayed", event)
        if st.open is not None and event.ticket == st.open.ticket:
            if event.kind == "cancel" and st.open.closing is None:
                log.info("ticket %s cancelled during its evaluation", event.ticket)
                st.open.closing = "cancelled"
                self._close_remaining(now)
            else:
                self._ignore("replayed", event)
        elif self._busy():
            self._queue(event, waited=waited)
        elif event.kind == "call":
            self._serving = event
            self._called_at[event.ticket] = event.ts if event.ts and event.ts.tzinfo else now
            while len(self._called_at) > 50:
                self._called_at.pop(next(iter(self._called_at)))
            self._staff_name = event.staff_name or self._staff_name
            self._show("serving", now)
        elif event.kind == "cancel":
            if self._serving is not None and self._serving.ticket == event.ticket:
                self._serving = None   # a no-show: nothing was served, nothing to rate
                self._show("idle", now)
            else:
                self._ignore("unknown_ticket", event)
        elif event.kind == "finish":
            self._open_evaluation(event, now)
        else:
            self._ignore("unknown_kind", event)

    def _queue(self, event: TicketEvent, *, waited: bool = False) -> None:
        """`waited`: it was already waiting and goes back in line (logged once, when it arrived)."""
        pending = self._state.pending
        if any(e.kind == event.kind and e.ticket == event.ticket for e in pending):
            return self._ignore("replayed", event)
        if event.kind == "call":   # only the latest waiting call will be shown
            pending[:] = [e for e in pending if e.kind != "call"]
        pending.append(event)
        while len(pending) > MAX_PENDING:
            victim = next((e for e in pending if e.kind != "finish"), None)
            if victim is None:
                break
            pending.remove(victim)
            self._ignore("queue_full", victim)
        if not waited:
            log.info("%s %s waits for the open evaluation", event.kind, event.ticket)
        self._save_journal()

    def _drain(self, now: datetime) -> None:
        events, self._state.pending = self._state.pending, []
        for event in events:
            self._handle(event, now, waited=True)   # re-queues itself once an evaluation is open again
        if events:
            self._save_journal()

    def _ignore(self, why: str, event: TicketEvent) -> None:
        self.counters[f"ignored_{why}"] += 1
        log.info("ignored %s %s (%s)", event.kind, event.ticket, why)

    def _roll_day(self, now: datetime) -> None:
        today = now.date().isoformat()
        if self._state.day != today:
            self._state.day, self._state.done = today, []

    # ------------------------------------------------------------- evaluation

    def _open_evaluation(self, event: TicketEvent, now: datetime) -> None:
        self.clock_problem = clock_problem(now)
        if self.clock_problem:
            log.error("ticket %s not asked: %s", event.ticket, self.clock_problem)
            self.counters["not_asked_clock_wrong"] += 1
            self._serving = None
            self._show("idle", now)
            return
        matters = list(dict.fromkeys(event.matters)) or [GENERIC_MATTER]
        if len(matters) > MAX_MATTERS:
            log.error("ticket %s has %d matters; asking the first %d", event.ticket, len(matters), MAX_MATTERS)
            self.counters["matters_truncated"] += 1
            matters = matters[:MAX_MATTERS]
        called = self._serving if self._serving and self._serving.ticket == event.ticket else None
        if called is not None:
            self._serving = None
        finished = event.ts if event.ts and event.ts.tzinfo else now
        called_at = self._called_at.pop(event.ticket, None)
        self._state.open = OpenEvaluation(
            ticket=_clip(event.ticket, 32), window=self.settings.window_id,
            staff_id=_clip(event.staff_id or (called.staff_id if called else "")),
            staff_name=_clip(event.staff_name or (called.staff_name if called else "") or self._staff_name),
            case_no=_clip(event.case_no or (called.case_no if called else None), 64) or None,
            called_at=_iso(called_at) if called_at else None, finished_at=_iso(finished),
            matters=[OpenMatter(_clip(m.code), _clip(m.name) or GENERIC_MATTER.name, str(uuid.uuid4()))
                     for m in matters],
            index=0, prompted_at=_iso(now))
        self._staff_name = self._state.open.staff_name
        self._save_journal()   # record ids are fixed before anything is stored
        self._show("rating", now)

    def _record(self, now: datetime, matter: OpenMatter, index: int, prompted_at: str, **result: Any) -> bool:
        """Store one matter's record; False (and the screen says so) if the outbox could not."""
        ev, s = self._state.open, self.settings
        try:
            record = new_record(
                device_id=s.device_id, region_code=s.region_code, hall_id=s.hall_id, window_id=ev.window,
                staff_id=ev.staff_id, staff_name=ev.staff_name, ticket=ev.ticket, case_no=ev.case_no,
                matter_code=matter.code, matter_name=matter.name, matter_index=index + 1,
                matter_count=len(ev.matters), scale_size=s.scale,
                prompted_at=datetime.fromisoformat(prompted_at),
                called_at=datetime.fromisoformat(ev.called_at) if ev.called_at else None,
                finished_at=datetime.fromisoformat(ev.finished_at), record_id=matter.record_id,
                now=now, **result)
            stored = self._outbox.put(record) or record
        except RecordError as e:   # can never be stored: count it, keep the kiosk going
            log.error("record for %s matter %d rejected: %s", ev.ticket, index + 1, e)
            self.counters["records_rejected"] += 1
            matter.result = "rejected"
            return True
        except Exception as e:     # disk full, I/O error...: nothing advances, retried on the next tap/tick
            if isinstance(e, (OSError, OutboxError)):   # the disk's state, not a bug: one line says which file
                log.error("outbox could not store the record for %s matter %d: %s", ev.ticket, index + 1, e)
            else:
                log.exception("outbox could not store the record for %s matter %d", ev.ticket, index + 1)
            self.counters["store_failures"] += 1
            self._message, self._dirty = MSG_STORE_FAILED, True
            self._retry_at = now + STORE_RETRY
            return False
        matter.result = stored.get("result", record["result"])
        return True

    def _store_current(self, now: datetime, **result: Any) -> bool:
        ev = self._state.open
        if not self._record(now, ev.current, ev.index, ev.prompted_at, **result):
            return False
        self._answer = None
        if ev.index + 1 < len(ev.matters):
            ev.index += 1
            ev.prompted_at = _iso(now)
            self._save_journal()
            self._show("rating", now)
        else:
            self._end_ticket(now, thanks=True)
        return True

    def _store_bad_review(self, now: datetime, phone: str | None) -> bool:
        a = self._answer
        due = deadline(a.voted_at, HANDLING_WORKDAYS, closing=self.settings.closing,
                       calendar=self.settings.calendar)
        reasons = [r for r in self.settings.reasons if r in a.selected]   # the screen's order
        comment = a.comment.strip() if OTHER_REASON in a.selected else None
        return self._store_current(now, rating=a.level.name, voted_at=a.voted_at, reasons=reasons,
                                   comment=comment or None, contact_phone=phone,
                                   due_at=due.due_at, calendar_verified=due.verified)

    def _close_remaining(self, now: datetime) -> None:
        """Record every unrecorded matter unrated(ev.closing); stops (to retry) if the outbox fails."""
        ev = self._state.open
        for i, m in enumerate(ev.matters):
            if m.result is None and not self._record(now, m, i, ev.prompted_at, unrated_reason=ev.closing):
                self._save_journal()
                return
        self._end_ticket(now, thanks=False)

    def _end_ticket(self, now: datetime, *, thanks: bool) -> None:
        ev = self._state.open
        rated, unrated = ev.counts()
        self._state.open, self._answer = None, None
        if len(self._state.done) >= MAX_DONE:
            del self._state.done[: MAX_DONE // 2]
        self._state.done.append(ev.ticket)
        self._last_ticket = ev.ticket
        self._save_journal()
        try:
            self._on_done(ev.ticket, rated, unrated)
        except Exception:   # the back-channel must never stop the kiosk
            log.exception("back-channel 'done' for %s failed", ev.ticket)
            self.counters["backchannel_failures"] += 1
        if thanks:
            self._show("thanks", now)
        else:
            self._after_ticket(now)

    def _after_ticket(self, now: datetime) -> None:
        self._show("serving" if self._serving else "idle", now)
        self._drain(now)

    # --------------------------------------------------------------- journal

    def _save_journal(self) -> None:
        try:
            self._journal.save(self._state.to_json())
        except OSError as e:   # the votes are in the outbox; only crash-resume is weakened
            log.error("could not write the journal: %s", e)
            self.counters["journal_failures"] += 1

    def _load_journal(self) -> JournalState | None:
        data = self._journal.load()
        state = None
        if data is not None:
            try:
                state = JournalState.from_json(data)
            except JournalError as e:
                self._journal.set_aside(f"cannot be used: {e}")
        if getattr(self._journal, "problem", None):
            self.journal_problem = self._journal.problem
            self.counters["journal_problems"] += 1
        return state

    # --------------------------------------------------------------- screens

    def _tap_allowed(self, screen: str, now: datetime) -> bool:
        _aware(now)
        if self._screen != screen or self._state.open is None or self._state.open.closing is not None:
            self.counters["ignored_taps"] += 1
            return False
        if 0 <= (now - self._shown_at).total_seconds() < self.settings.carry_over_guard_s:
            self.counters["ignored_carry_over"] += 1
            return False
        return True

    def _touch(self, now: datetime) -> None:
        self._activity, self._reminder, self._message, self._dirty = now, False, None, True

    def _show(self, screen: str, now: datetime) -> None:
        self._screen, self._shown_at = screen, now
        self._touch(now)

    def _render(self) -> None:
        if self._view is not None and not self._dirty:
            return
        self._dirty = False
        self._serial += 1
        ev, a = self._state.open, self._answer
        asking = ev is not None and self._screen in ASKING
        ticket = (ev.ticket if ev else self._last_ticket if self._screen == "thanks"
                  else self._serving.ticket if self._serving and self._screen == "serving" else None)
        self._view = View(
            screen=self._screen, window_id=self.settings.window_id,
            staff_name=ev.staff_name if ev else self._staff_name, ticket=ticket,
            matter_name=ev.current.name if asking else None,
            matter_index=ev.index + 1 if asking else 0, matter_count=len(ev.matters) if asking else 0,
            levels=self._scale.levels, reasons=self.settings.reasons,
            selected_reasons=frozenset(a.selected) if a else frozenset(), comment=a.comment if a else "",
            phone_masked=mask_partial_phone(a.phone) if a else "",
            phone_complete=bool(a) and is_mobile_phone(a.phone),
            reminder=self._reminder, message=self._message, shown_at=self._shown_at, serial=self._serial)
