"""The evaluation state machine (kiosk/flow.py) without Kivy: every transition,
with the real journal on disk and the outbox the kiosk stores into."""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta

import pytest

from hallcore.hallclock import DEFAULT_TZ
from hallcore.record import check_record
from kiosk.events import Matter, TicketEvent
from kiosk.flow import (GENERIC_MATTER, MSG_NEED_REASON, MSG_PHONE_INCOMPLETE,
                        MSG_STORE_FAILED, FlowSettings, KioskFlow)
from kiosk.journal import Journal

from tests.support.kiosk_flow import OUTBOX_KINDS, OutboxOpener, outbox_records

T0 = datetime(2026, 11, 27, 15, 0, tzinfo=DEFAULT_TZ)          # a Friday
SETTINGS = FlowSettings(device_id="tab-03", region_code="430922", hall_id="taojiang", window_id="03")
TWO = (("M1", "不动产登记"), ("M2", "户籍迁移"))


def event(kind, ticket="A023", matters=(("M1", "不动产登记"),), window="03", **kw):
    return TicketEvent(kind, ticket, window, staff_id="1024", staff_name="李明", case_no=kw.pop("case_no", None),
                       matters=tuple(Matter(c, n) for c, n in matters), **kw)


class Kiosk:
    """One kiosk process: flow + journal + outbox on `folder`. A new Kiosk on
    the same folder is a restart after a crash."""

    opened: list = []

    def __init__(self, folder, settings=SETTINGS, now=T0, outbox=None, opener=None):
        self.folder, self.now = folder, now
        self.opener = opener or OutboxOpener("disk")
        self.outbox = outbox if outbox is not None else self.opener(folder)
        Kiosk.opened.append(self.outbox)
        self.journal = Journal(folder / "journal.json")
        self.done: list[tuple] = []
        self.flow = KioskFlow(settings, self.outbox, self.journal, lambda *a: self.done.append(a), now)
        self.flow.resume(now)

    def restart(self, **after) -> "Kiosk":
        """Power cut now; the kiosk starts again `after` later on the same disk."""
        self.outbox.close()
        return Kiosk(self.folder, now=self.now + timedelta(**after), opener=self.opener)

    def at(self, seconds: float = 0.5) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now

    def records(self) -> list[dict]:
        return outbox_records(self.outbox)

    def finish(self, ticket="A023", matters=(("M1", "不动产登记"),)):
        self.flow.on_event(event("finish", ticket, matters), self.at(0.1))

    def rate(self, rating="satisfied"):
        return self.flow.tap_rating(rating, self.at(1))

    def bad_review(self, reasons=("服务态度不热情",), phone=None, rating="dissatisfied"):
        assert self.rate(rating)
        for r in reasons:
            self.flow.toggle_reason(r, self.at(1))
        self.flow.confirm_reasons(self.at(1))
        if phone is None:
            self.flow.skip_phone(self.at(1))
        else:
            for d in phone:
                self.flow.phone_key(d, self.at(0.4))
            self.flow.confirm_phone(self.at(1))

    def wait(self, seconds: float, step: float = 1.0):
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            self.flow.tick(self.at(step))


@pytest.fixture(autouse=True)
def _close_outboxes():
    yield
    while Kiosk.opened:
        Kiosk.opened.pop().close()


@pytest.fixture(params=OUTBOX_KINDS)
def open_outbox(request):
    """Every flow test runs over the disk outbox and the in-memory one."""
    return OutboxOpener(request.param)


@pytest.fixture
def new_kiosk(open_outbox):
    def make(folder, settings=SETTINGS, **kw):
        return Kiosk(folder, settings, opener=open_outbox, **kw)
    return make


@pytest.fixture
def kiosk(tmp_path, new_kiosk):
    return new_kiosk(tmp_path)


# ------------------------------------------------------------ the happy paths

def test_idle_shows_window_and_staff_then_call_shows_serving(kiosk):
    v = kiosk.flow.view
    assert (v.screen, v.window_id, v.ticket) == ("idle", "03", None)
    kiosk.flow.on_event(event("call"), kiosk.at())
    v = kiosk.flow.view
    assert (v.screen, v.ticket, v.staff_name) == ("serving", "A023", "李明")
    assert kiosk.records() == []


def test_three_level_good_rating_is_stored_before_thanks_then_idle(kiosk):
    kiosk.flow.on_event(event("call", case_no="TJ2026-001"), kiosk.at())
    kiosk.finish()
    v = kiosk.flow.view
    assert (v.screen, v.matter_name, v.matter_index, v.matter_count) == ("rating", "不动产登记", 1, 1)
    assert [lv.label for lv in v.levels] == ["满意", "基本满意", "不满意"]
    assert kiosk.rate("basically_satisfied") is True
    assert kiosk.flow.view.screen == "thanks"
    [rec] = kiosk.records()           # on disk by the time the thank-you shows
    check_record(rec)
    assert (rec["result"], rec["rating_label"], rec["satisfaction_code"]) == ("rated", "基本满意", 3)
    assert (rec["ticket"], rec["case_no"], rec["staff_id"], rec["window_id"]) == ("A023", "TJ2026-001", "1024", "03")
    assert rec["called_at"] and rec["finished_at"] and rec["voted_at"] and rec["due_at"] is None
    assert kiosk.done == [("A023", 1, 0)]
    kiosk.wait(2)
    assert kiosk.flow.view.screen == "thanks"
    kiosk.wait(2)
    assert kiosk.flow.view.screen == "idle"


@pytest.mark.parametrize("rating,code", [("very_satisfied", 1), ("satisfied", 2), ("basically_satisfied", 3)])
def test_five_level_scale_good_ratings(tmp_path, rating, code, new_kiosk):
    k = new_kiosk(tmp_path, FlowSettings("tab-03", "430922", "taojiang", "03", scale=5))
    k.finish()
    assert len(k.flow.view.levels) == 5
    assert k.rate(rating)
    [rec] = k.records()
    assert (rec["scale"], rec["rating"], rec["satisfaction_code"]) == (5, rating, code)


def test_five_level_very_dissatisfied_is_a_bad_review(tmp_path, new_kiosk):
    k = new_kiosk(tmp_path, FlowSettings("tab-03", "430922", "taojiang", "03", scale=5))
    k.finish()
    k.bad_review(rating="very_dissatisfied")
    [rec] = k.records()
    assert (rec["rating_label"], rec["satisfaction_code"], rec["reasons"]) == ("非常不满意", 5, ["服务态度不热情"])


def test_multi_matter_ticket_asks_each_matter_once(kiosk):
    kiosk.finish(matters=TWO)
    v = kiosk.flow.view
    assert (v.matter_name, v.matter_index, v.matter_count) == ("不动产登记", 1, 2)
    assert kiosk.rate("satisfied")
    v = kiosk.flow.view
    assert (v.screen, v.matter_name, v.matter_index) == ("rating", "户籍迁移", 2)
    assert kiosk.done == []
    assert kiosk.rate("basically_satisfied")
    recs = kiosk.records()
    assert [(r["matter_code"], r["matter_index"], r["matter_count"], r["rating"]) for r in recs] == [
        ("M1", 1, 2, "satisfied"), ("M2", 2, 2, "basically_satisfied")]
    assert [r["seq"] for r in recs] == [1, 2]
    assert kiosk.done == [("A023", 2, 0)] and kiosk.flow.view.screen == "thanks"


def test_finish_without_matters_asks_one_generic_matter(kiosk):
    kiosk.finish(matters=())
    assert kiosk.flow.view.matter_name == GENERIC_MATTER.name
    kiosk.rate()
    assert kiosk.records()[0]["matter_name"] == GENERIC_MATTER.name


# ------------------------------------------------------------ bad reviews

def test_bad_review_needs_a_reason_then_masked_phone_and_deadline(kiosk):
    kiosk.finish()
    assert kiosk.rate("dissatisfied")
    v = kiosk.flow.view
    assert v.screen == "reasons" and "未一次性告知" in v.reasons and kiosk.records() == []
    kiosk.flow.confirm_reasons(kiosk.at(1))
    assert (kiosk.flow.view.screen, kiosk.flow.view.message) == ("reasons", MSG_NEED_REASON)
    kiosk.flow.toggle_reason("未一次性告知", kiosk.at(1))
    kiosk.flow.toggle_reason("拖拉推诿", kiosk.at(1))
    kiosk.flow.toggle_reason("拖拉推诿", kiosk.at(1))      # untoggled again
    kiosk.flow.toggle_reason("乱收费", kiosk.at(1))
    assert kiosk.flow.view.selected_reasons == {"未一次性告知", "乱收费"} and kiosk.flow.view.message is None
    kiosk.flow.confirm_reasons(kiosk.at(1))
    assert kiosk.flow.view.screen == "phone"
    for d in "13812345678":
        kiosk.flow.phone_key(d, kiosk.at(0.5))
    v = kiosk.flow.view
    assert (v.phone_masked, v.phone_complete) == ("138****5678", True)
    kiosk.flow.phone_key("9", kiosk.at(0.5))               # a 12th digit is not taken
    assert kiosk.flow.view.phone_masked == "138****5678"
    kiosk.flow.confirm_phone(kiosk.at(1))
    [rec] = kiosk.records()
    check_record(rec)
    assert rec["reasons"] == ["未一次性告知", "乱收费"]    # in the checklist's order
    assert rec["contact_phone"] == "13812345678" and rec["comment"] is None
    assert rec["voted_at"] == "2026-11-27T15:00:01+08:00"   # the rating tap, not the confirm
    # Friday 15:00 -> Tuesday 17:30 (DESIGN.md section 2)
    assert (rec["due_at"], rec["calendar_verified"]) == ("2026-12-01T17:30:00+08:00", True)
    assert kiosk.flow.view.screen == "thanks"


def test_other_reason_keeps_the_comment_text_trimmed(kiosk):
    kiosk.finish()
    kiosk.rate("dissatisfied")
    kiosk.flow.toggle_reason("其他", kiosk.at(1))
    kiosk.flow.set_comment("  等了两个小时  ", kiosk.at(1))
    assert kiosk.flow.view.comment == "  等了两个小时  "
    kiosk.flow.confirm_reasons(kiosk.at(1))
    kiosk.flow.skip_phone(kiosk.at(1))
    [rec] = kiosk.records()
    assert (rec["reasons"], rec["comment"], rec["contact_phone"]) == (["其他"], "等了两个小时", None)


def test_other_reason_without_text_goes_on_to_the_phone(kiosk):
    # no Chinese input method on the tablet must not trap the citizen on 其他
    kiosk.finish()
    kiosk.rate("dissatisfied")
    kiosk.flow.toggle_reason("其他", kiosk.at(1))
    kiosk.flow.confirm_reasons(kiosk.at(1))
    assert kiosk.flow.view.screen == "phone"
    kiosk.flow.skip_phone(kiosk.at(1))
    [rec] = kiosk.records()
    assert (rec["reasons"], rec["comment"]) == (["其他"], None)


def test_incomplete_phone_is_refused_and_del_erases(kiosk):
    kiosk.finish()
    kiosk.rate("dissatisfied")
    kiosk.flow.toggle_reason("乱收费", kiosk.at(1))
    kiosk.flow.confirm_reasons(kiosk.at(1))
    for d in "1381234":
        kiosk.flow.phone_key(d, kiosk.at(0.5))
    assert kiosk.flow.view.phone_masked == "138****"
    kiosk.flow.phone_key("del", kiosk.at(0.5))
    assert kiosk.flow.view.phone_masked == "138***"
    kiosk.flow.confirm_phone(kiosk.at(1))
    v = kiosk.flow.view
    assert (v.screen, v.message, v.phone_complete) == ("phone", MSG_PHONE_INCOMPLETE, False)
    assert kiosk.records() == []
    kiosk.flow.skip_phone(kiosk.at(1))
    assert kiosk.records()[0]["contact_phone"] is None


def test_a_number_that_is_not_a_mobile_is_refused(kiosk):
    kiosk.finish()
    kiosk.bad_review(phone="02312345678")          # 11 digits, but not a mobile number
    assert kiosk.flow.view.message == MSG_PHONE_INCOMPLETE and kiosk.records() == []


# ------------------------------------------------------------ walk-away

def test_reminder_then_timeout_records_every_matter_unrated_never_a_rating(kiosk):
    kiosk.finish(matters=TWO)
    kiosk.wait(29)
    assert kiosk.flow.view.reminder is False
    kiosk.wait(2)
    assert kiosk.flow.view.reminder is True
    kiosk.wait(28)
    assert kiosk.records() == []
    kiosk.wait(2)
    recs = kiosk.records()
    assert [(r["result"], r["unrated_reason"], r["rating"], r["voted_at"]) for r in recs] == [
        ("unrated", "timeout", None, None)] * 2
    assert kiosk.done == [("A023", 0, 2)]
    assert kiosk.flow.view.screen == "idle"


def test_a_tap_clears_the_reminder_and_restarts_the_clock(kiosk):
    kiosk.finish()
    kiosk.rate("dissatisfied")
    kiosk.wait(31)
    assert kiosk.flow.view.reminder
    kiosk.flow.toggle_reason("乱收费", kiosk.at(1))
    assert not kiosk.flow.view.reminder
    kiosk.wait(50)
    assert kiosk.records() == [] and kiosk.flow.view.screen == "reasons"


def test_walk_away_on_reasons_screen_is_unrated(kiosk):
    kiosk.finish()
    kiosk.rate("dissatisfied")
    kiosk.flow.toggle_reason("乱收费", kiosk.at(1))   # picked, never confirmed
    kiosk.wait(61)
    [rec] = kiosk.records()
    assert (rec["result"], rec["unrated_reason"]) == ("unrated", "timeout")


def test_walk_away_on_phone_screen_keeps_the_bad_review_and_times_out_the_rest(kiosk):
    kiosk.finish(matters=TWO)
    kiosk.rate("dissatisfied")
    kiosk.flow.toggle_reason("乱收费", kiosk.at(1))
    kiosk.flow.confirm_reasons(kiosk.at(1))
    kiosk.flow.phone_key("1", kiosk.at(1))
    kiosk.wait(61)
    first, second = kiosk.records()
    assert (first["rating"], first["reasons"], first["contact_phone"]) == ("dissatisfied", ["乱收费"], None)
    assert (second["result"], second["unrated_reason"]) == ("unrated", "timeout")
    assert kiosk.done == [("A023", 1, 1)]


# ------------------------------------------------------------ cancel and queued events

def test_cancel_during_evaluation_records_the_remaining_matters_cancelled(kiosk):
    kiosk.finish(matters=TWO)
    kiosk.rate("satisfied")
    kiosk.flow.on_event(event("cancel"), kiosk.at())
    first, second = kiosk.records()
    assert first["result"] == "rated"
    assert (second["result"], second["unrated_reason"], second["matter_index"]) == ("unrated", "cancelled", 2)
    assert kiosk.done == [("A023", 1, 1)] and kiosk.flow.view.screen == "idle"


def test_cancel_of_a_called_ticket_is_a_no_show_and_records_nothing(kiosk):
    kiosk.flow.on_event(event("call"), kiosk.at())
    kiosk.flow.on_event(event("cancel"), kiosk.at())
    assert kiosk.flow.view.screen == "idle" and kiosk.records() == [] and kiosk.done == []


def test_call_during_evaluation_waits_until_it_ends(kiosk):
    kiosk.finish()
    kiosk.flow.on_event(event("call", "A024"), kiosk.at())
    kiosk.flow.on_event(event("call", "A025"), kiosk.at())    # supersedes A024's waiting call
    v = kiosk.flow.view
    assert (v.screen, v.ticket) == ("rating", "A023") and kiosk.flow.pending_events == 1
    kiosk.rate()
    assert kiosk.flow.view.screen == "thanks"
    kiosk.wait(3)
    v = kiosk.flow.view
    assert (v.screen, v.ticket) == ("serving", "A025") and kiosk.flow.pending_events == 0


def test_a_waiting_event_is_logged_once_not_at_every_tick(kiosk, caplog):
    caplog.set_level("INFO", logger="kiosk.flow")
    kiosk.finish("A023", matters=TWO)
    kiosk.flow.on_event(event("call", "A024"), kiosk.at())
    kiosk.flow.on_event(event("finish", "A024"), kiosk.at())
    kiosk.rate()                       # matter 1 of 2: the pending events are drained and queued again
    kiosk.rate()
    assert kiosk.flow.view.screen == "thanks"
    kiosk.wait(2.8, step=0.2)          # the thank-you's ticks leave the waiting events where they are
    assert kiosk.flow.view.screen == "thanks" and kiosk.flow.pending_events == 2
    kiosk.wait(0.4, step=0.2)
    assert kiosk.flow.view.ticket == "A024"
    waits = [r.getMessage() for r in caplog.records if "waits for the open evaluation" in r.getMessage()]
    assert waits == ["call A024 waits for the open evaluation", "finish A024 waits for the open evaluation"]


def test_finish_during_evaluation_is_evaluated_after_it(kiosk):
    kiosk.finish("A023")
    kiosk.finish("A024", matters=(("M9", "社保卡申领"),))
    assert kiosk.flow.view.ticket == "A023"
    kiosk.rate("satisfied")
    kiosk.wait(3)
    v = kiosk.flow.view
    assert (v.screen, v.ticket, v.matter_name) == ("rating", "A024", "社保卡申领")
    kiosk.rate("basically_satisfied")
    assert [r["ticket"] for r in kiosk.records()] == ["A023", "A024"]
    assert kiosk.done == [("A023", 1, 0), ("A024", 1, 0)]


def test_replayed_finish_never_creates_a_second_vote(kiosk):
    kiosk.finish()
    kiosk.finish()                                   # replay while open
    kiosk.rate()
    kiosk.wait(3)
    kiosk.flow.on_event(event("finish"), kiosk.at())  # replay after it ended
    kiosk.flow.on_event(event("call"), kiosk.at())
    kiosk.flow.on_event(event("cancel"), kiosk.at())
    kiosk.wait(120)
    assert len(kiosk.records()) == 1 and kiosk.done == [("A023", 1, 0)]
    assert kiosk.flow.view.screen == "idle"
    assert kiosk.flow.counters["ignored_replayed"] == 4


def test_ticket_numbers_restart_the_next_day(kiosk):
    kiosk.finish()
    kiosk.rate()
    kiosk.wait(3)
    kiosk.now += timedelta(days=1)
    kiosk.finish()
    assert kiosk.flow.view.screen == "rating"


def test_events_for_another_window_are_ignored(kiosk):
    kiosk.flow.on_event(event("finish", window="07"), kiosk.at())
    assert kiosk.flow.view.screen == "idle" and kiosk.flow.counters["ignored_other_window"] == 1


# ------------------------------------------------------------ taps

def test_double_tap_records_one_vote(kiosk):
    kiosk.finish()
    assert kiosk.rate("satisfied") is True
    assert kiosk.flow.tap_rating("dissatisfied", kiosk.at(0.05)) is False
    assert kiosk.flow.tap_rating("satisfied", kiosk.at(1)) is False    # thank-you screen
    [rec] = kiosk.records()
    assert rec["rating"] == "satisfied"


def test_taps_in_the_first_300_ms_of_a_screen_are_ignored(kiosk):
    kiosk.finish(matters=TWO)
    shown = kiosk.flow.view.shown_at
    assert kiosk.flow.tap_rating("satisfied", shown + timedelta(milliseconds=100)) is False
    assert kiosk.flow.tap_rating("satisfied", shown + timedelta(milliseconds=300)) is True
    # the same finger landing on the next matter's screen is a carry-over, not a vote
    t = kiosk.flow.view.shown_at
    assert kiosk.flow.tap_rating("dissatisfied", t + timedelta(milliseconds=250)) is False
    kiosk.flow.tap_rating("dissatisfied", t + timedelta(milliseconds=400))
    kiosk.flow.toggle_reason("乱收费", kiosk.flow.view.shown_at + timedelta(milliseconds=50))
    assert kiosk.flow.view.selected_reasons == frozenset()
    assert len(kiosk.records()) == 1


def test_unknown_rating_from_the_ui_is_refused(kiosk):
    kiosk.finish()
    assert kiosk.flow.tap_rating("great", kiosk.at(1)) is False
    assert kiosk.records() == [] and kiosk.flow.view.screen == "rating"


def test_view_serial_changes_only_when_the_view_does(kiosk):
    s = kiosk.flow.view.serial
    kiosk.flow.tick(kiosk.at())
    assert kiosk.flow.view.serial == s
    kiosk.finish()
    assert kiosk.flow.view.serial > s


def test_naive_times_are_refused(kiosk):
    with pytest.raises(ValueError, match="timezone-aware"):
        kiosk.flow.tick(datetime(2026, 11, 27, 15, 0))


# ------------------------------------------------------------ crash-resume

def test_restart_resumes_a_fresh_evaluation_at_the_same_matter(tmp_path, new_kiosk):
    k = new_kiosk(tmp_path)
    k.finish(matters=TWO)
    k.rate("satisfied")
    prompted = json.loads((tmp_path / "journal.json").read_text())["open"]["prompted_at"]
    # power cut; back 2 minutes later
    k2 = k.restart(minutes=2)
    v = k2.flow.view
    assert (v.screen, v.ticket, v.matter_index, v.matter_name) == ("rating", "A023", 2, "户籍迁移")
    assert k2.rate("basically_satisfied")
    recs = k2.records()
    assert [r["matter_index"] for r in recs] == [1, 2] and recs[1]["prompted_at"] == prompted
    assert k2.done == [("A023", 2, 0)]


def test_restart_after_a_stale_evaluation_records_it_interrupted(tmp_path, new_kiosk):
    k = new_kiosk(tmp_path)
    k.finish(matters=TWO)
    k.rate("satisfied")
    k2 = k.restart(seconds=601)
    first, second = k2.records()
    assert (second["result"], second["unrated_reason"]) == ("unrated", "interrupted")
    assert k2.done == [("A023", 1, 1)] and k2.flow.view.screen == "idle"
    assert json.loads((tmp_path / "journal.json").read_text())["open"] is None


def test_crash_between_store_and_journal_update_never_doubles_a_record(tmp_path, new_kiosk):
    k = new_kiosk(tmp_path)
    k.finish(matters=TWO)
    before = (tmp_path / "journal.json").read_bytes()
    k.rate("satisfied")                                  # stored...
    (tmp_path / "journal.json").write_bytes(before)      # ...but the journal update was lost
    k2 = k.restart(seconds=5)
    assert k2.flow.view.matter_index == 1                # asked again (we cannot know it was stored)
    k2.rate("basically_satisfied")                     # the outbox keeps the first answer for this id
    k2.rate("satisfied")
    recs = k2.records()
    assert [(r["matter_index"], r["rating"]) for r in recs] == [(1, "satisfied"), (2, "satisfied")]
    assert k2.done == [("A023", 2, 0)]                   # counts follow what the outbox holds


def test_restart_keeps_events_that_waited_behind_the_evaluation(tmp_path, new_kiosk):
    k = new_kiosk(tmp_path)
    k.finish("A023")
    k.finish("A024")
    k2 = k.restart(seconds=10)
    assert k2.flow.view.ticket == "A023" and k2.flow.pending_events == 1
    k2.rate()
    k2.wait(3)
    assert k2.flow.view.ticket == "A024"


def test_replayed_finish_after_a_restart_is_still_ignored(tmp_path, new_kiosk):
    k = new_kiosk(tmp_path)
    k.finish()
    k.rate()
    k2 = k.restart(seconds=10)
    k2.finish()
    assert k2.flow.view.screen == "idle" and len(k2.records()) == 1


@pytest.mark.parametrize("content", [b"{\"version\": 1, \"open\": {\"tick", b"\xff\xfe garbage", b"[1, 2]",
                                     b'{"version": 1, "open": {"ticket": "A023"}}'])
def test_corrupt_journal_is_reported_and_set_aside_not_a_crash(tmp_path, content, new_kiosk):
    (tmp_path / "journal.json").write_bytes(content)
    k = new_kiosk(tmp_path)
    assert k.flow.view.screen == "idle"
    assert "journal" in k.flow.journal_problem and k.flow.counters["journal_problems"] == 1
    assert not (tmp_path / "journal.json").exists()
    [aside] = tmp_path.glob("journal.json.corrupt-*")
    assert aside.read_bytes() == content
    k.finish()
    k.rate()
    assert len(k.records()) == 1


# ------------------------------------------------------------ a failing disk

class FailingOutbox:
    """Fault injection around an outbox: the next `fail` puts raise OSError (disk full)."""

    def __init__(self, inner):
        self.inner, self.fail = inner, 0

    def close(self):
        self.inner.close()

    def put(self, record):
        if self.fail:
            self.fail -= 1
            raise OSError(28, "No space left on device")
        return self.inner.put(record)


def test_no_thanks_until_the_record_is_stored(tmp_path, new_kiosk, open_outbox):
    outbox = FailingOutbox(open_outbox(tmp_path))
    k = new_kiosk(tmp_path, outbox=outbox)
    k.finish()
    outbox.fail = 1
    assert k.rate() is False
    v = k.flow.view
    assert (v.screen, v.message) == ("rating", MSG_STORE_FAILED) and k.done == []
    assert k.rate() is True and k.flow.view.screen == "thanks"
    assert len(outbox_records(outbox.inner)) == 1 and k.flow.counters["store_failures"] == 1


def test_unrated_close_is_retried_until_the_outbox_takes_it(tmp_path, new_kiosk, open_outbox):
    outbox = FailingOutbox(open_outbox(tmp_path))
    k = new_kiosk(tmp_path, outbox=outbox)
    k.finish(matters=TWO)
    outbox.fail = 2
    k.flow.on_event(event("cancel"), k.at())
    assert outbox_records(outbox.inner) == [] and k.done == []
    k.wait(20)
    assert [r["unrated_reason"] for r in outbox_records(outbox.inner)] == ["cancelled", "cancelled"]
    assert k.done == [("A023", 0, 2)]


def test_a_full_disk_shows_could_not_save_and_the_repeated_tap_stores_once(small_disk, caplog):
    """The real disk outbox and journal on a full 2 MiB tmpfs."""
    k = Kiosk(small_disk.path)
    try:
        small_disk.fill()
        with caplog.at_level(logging.ERROR, logger="kiosk.flow"):
            k.finish()                                 # the journal cannot be written: one line, go on
            assert k.rate() is False
            k.wait(10)                                 # ticks do not lose the answer
            assert k.rate() is False                   # nor does a second tap while still full
        v = k.flow.view
        assert (v.screen, v.message) == ("rating", MSG_STORE_FAILED) and k.done == [] and k.records() == []
        stores = [r.getMessage() for r in caplog.records if "could not store" in r.getMessage()]
        assert len(stores) == 2 and all(f"{small_disk.path}/outbox/pending/" in m
                                        and "No space left on device" in m for m in stores)
        assert any("could not write the journal" in r.getMessage() for r in caplog.records)
        assert all(r.exc_info is None for r in caplog.records)       # one line each, no traceback
        small_disk.free()
        assert k.rate() is True and k.flow.view.screen == "thanks" and k.done == [("A023", 1, 0)]
        [rec] = k.records()
        assert rec["seq"] == 1 and k.flow.counters["store_failures"] == 2
        again = k.restart(seconds=5)
        assert [r["id"] for r in again.records()] == [rec["id"]]
    finally:
        while Kiosk.opened:
            Kiosk.opened.pop().close()             # before the disk is unmounted


def test_a_clock_stepped_back_neither_freezes_taps_nor_skips_the_timeout(kiosk):
    kiosk.finish()
    kiosk.now -= timedelta(hours=1)                  # NTP correction
    kiosk.flow.tick(kiosk.at(1))
    kiosk.wait(59)
    assert kiosk.records() == []
    kiosk.wait(2)
    assert kiosk.records()[0]["unrated_reason"] == "timeout"


def test_a_tap_right_after_the_clock_stepped_back_counts(kiosk):
    kiosk.finish()
    kiosk.now -= timedelta(hours=1)
    assert kiosk.rate() is True


# ------------------------------------------------------------ random sessions

from hypothesis import HealthCheck, given, settings, strategies as st  # noqa: E402

TICKETS = ("A1", "A2")            # few tickets: replays and collisions are common
STEPS = st.one_of(
    st.tuples(st.sampled_from(("call", "cancel")), st.sampled_from(TICKETS)),
    st.tuples(st.just("finish"), st.sampled_from(TICKETS), st.integers(0, 3)),
    st.tuples(st.just("tap"), st.sampled_from(("satisfied", "basically_satisfied", "dissatisfied"))),
    st.tuples(st.just("reason"), st.sampled_from(("乱收费", "其他"))),
    st.tuples(st.sampled_from(("confirm_reasons", "confirm_phone", "skip_phone", "comment")),),
    st.tuples(st.just("key"), st.sampled_from(("1", "3", "8", "del"))),
    st.tuples(st.just("wait"), st.floats(0.05, 90)),
    st.tuples(st.just("restart"), st.floats(0, 1200)),
)


@settings(max_examples=int(__import__("os").environ.get("FLOW_EXAMPLES", "150")), deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(STEPS, min_size=8, max_size=40))
def test_any_session_stores_each_matter_of_each_finished_ticket_exactly_once(tmp_path_factory, new_kiosk, steps):
    folder = tmp_path_factory.mktemp("kiosk")
    k, done, finished = new_kiosk(folder), [], {}
    for step in steps:
        f, now = k.flow, k.at(0.5)
        if step[0] in ("call", "cancel"):
            f.on_event(event(step[0], step[1]), now)
        elif step[0] == "finish":
            matters = tuple((f"M{i}", f"事项{i}") for i in range(step[2]))
            finished.setdefault(step[1], max(1, len(matters)))
            f.on_event(event("finish", step[1], matters), now)
        elif step[0] == "tap":
            f.tap_rating(step[1], now)
        elif step[0] == "reason":
            f.toggle_reason(step[1], now)
        elif step[0] == "comment":
            f.set_comment("太慢", now)
        elif step[0] == "key":
            f.phone_key(step[1], now)
        elif step[0] == "wait":
            k.wait(step[1], step=0.5)
        elif step[0] == "restart":
            done += k.done
            k = k.restart(seconds=step[1])
        else:
            getattr(f, step[0])(now)
    k.wait(200)                                      # every walk-away times out, every thanks ends
    done += k.done
    assert k.flow.view.screen in ("idle", "serving") and k.flow.pending_events == 0
    recs = k.records()
    assert len({r["id"] for r in recs}) == len(recs)
    by_ticket: dict[str, list[int]] = {}
    for r in recs:
        by_ticket.setdefault(r["ticket"], []).append(r["matter_index"])
        assert r["result"] == "rated" or r["unrated_reason"] in ("timeout", "cancelled", "interrupted")
    # every finished ticket: each of its matters exactly once; nothing for tickets never finished
    assert {t: sorted(ix) for t, ix in by_ticket.items()} == {
        t: list(range(1, n + 1)) for t, n in finished.items()}
    assert sorted(d[0] for d in done) == sorted(finished)          # "done" once per ticket
    for ticket, rated, unrated in done:
        mine = [r for r in recs if r["ticket"] == ticket]
        assert (rated, unrated) == (sum(r["result"] == "rated" for r in mine),
                                    sum(r["result"] == "unrated" for r in mine))


def test_a_record_the_outbox_refuses_is_counted_and_the_kiosk_goes_on(tmp_path, new_kiosk, open_outbox):
    # the outbox belongs to another device: it refuses every record (RecordError), forever
    k = new_kiosk(tmp_path, outbox=open_outbox(tmp_path, device_id="other-tablet"))
    k.finish()
    k.rate()
    assert k.records() == [] and k.flow.counters["records_rejected"] == 1
    assert k.done == [("A023", 0, 1)]
    k.wait(3)
    assert k.flow.view.screen == "idle"


# ------------------------------------------------------------ a plainly wrong clock

RESET = datetime(2000, 1, 1, 8, 0, tzinfo=DEFAULT_TZ)        # what a tablet with a flat RTC battery says


def test_a_clock_before_the_release_asks_nothing_and_says_why(tmp_path, new_kiosk):
    k = new_kiosk(tmp_path, now=RESET)
    assert "before 2026-11-01" in k.flow.clock_problem
    k.flow.on_event(event("call"), k.at(0.1))
    k.finish()
    assert k.flow.view.screen == "idle"                 # no rating screen: every record would be refused
    assert k.records() == [] and k.done == []
    assert k.flow.counters["not_asked_clock_wrong"] == 1


def test_the_clock_set_right_resumes_evaluations(tmp_path, new_kiosk):
    k = new_kiosk(tmp_path, now=RESET)
    k.now = T0
    k.flow.tick(k.at(0.1))
    assert k.flow.clock_problem is None
    k.finish()
    k.rate()
    assert [r["rating"] for r in k.records()] == ["satisfied"]


def test_a_clock_stepped_below_the_earliest_time_mid_evaluation_stores_no_out_of_range_record(kiosk):
    kiosk.finish()
    kiosk.now = datetime(2019, 11, 30, 9, 0, tzinfo=DEFAULT_TZ)   # stepped back during the rating screen
    kiosk.rate()
    assert kiosk.records() == [] and kiosk.flow.counters["records_rejected"] == 1
    kiosk.flow.tick(kiosk.at(0.2))
    assert kiosk.flow.clock_problem is not None          # and the admin screen says so


# ------------------------------------------------------------ new settings (the center's bundle)

def test_the_flow_is_idle_only_when_nobody_is_served_asked_or_thanked(kiosk):
    f = kiosk.flow
    assert f.idle
    f.on_event(event("call"), kiosk.at())
    assert not f.idle                               # serving: a citizen stands there
    kiosk.finish()
    assert not f.idle                               # rating
    f.tap_rating("satisfied", kiosk.at(1))
    assert f.view.screen == "thanks" and not f.idle
    f.on_event(event("finish", "A024"), kiosk.at())
    f.tick(kiosk.at(3.5))
    assert f.view.screen == "rating" and not f.idle  # the waiting finish opened at once
    f.tap_rating("satisfied", kiosk.at(1))
    f.tick(kiosk.at(3.5))
    assert f.view.screen == "idle" and f.idle


def test_new_settings_apply_only_while_idle_and_only_for_this_window(kiosk):
    from dataclasses import replace
    f = kiosk.flow
    five = replace(f.settings, scale=5, reasons=("窗口人员不足", "其他"))
    kiosk.finish()
    with pytest.raises(RuntimeError):
        f.apply_settings(five)
    assert f.settings.scale == 3 and len(f.view.levels) == 3
    f.tap_rating("satisfied", kiosk.at(1))
    f.tick(kiosk.at(3.5))
    f.apply_settings(five)
    kiosk.finish("A024")
    assert len(f.view.levels) == 5 and f.view.reasons == ("窗口人员不足", "其他")
    with pytest.raises(ValueError):
        replace_window = replace(five, window_id="07")
        f.tap_rating("satisfied", kiosk.at(1))
        f.tick(kiosk.at(3.5))
        f.apply_settings(replace_window)
