"""The kiosk screens, rendered offscreen and driven by touches through the
window, on the real flow, journal and outbox. Saves a PNG of every screen at
1280x800 under test-output/screens/."""
from __future__ import annotations

import threading


from kiosk.ui.sounds import Sounds
from tests.support.kioskui import ADMIN_PIN, SCREENS_DIR, UiHarness

MATTERS = (("M01", "居民身份证申领"), ("M02", "户口迁移登记"))


def test_three_level_evaluation_with_bad_review_reason_and_phone(ui):
    h = ui(scale=3)
    shots = SCREENS_DIR
    assert h.screen == "idle"
    h.screenshot("01_idle", shots)
    h.event("call", "A023")
    assert h.screen == "serving"
    assert "A023" in h.screen_widget().ids.ticket.text
    h.screenshot("02_serving", shots)
    h.event("finish", "A023", matters=MATTERS)
    assert h.screen == "rating"
    assert h.screen_widget().ids.matter.text == "第 1/2 项：居民身份证申领"
    h.screenshot("03_rating_3", shots)

    h.tap(h.rating_button("dissatisfied"))
    assert h.screen == "reasons"
    h.tap(h.screen_widget().ids.confirm)          # no reason picked: refused with a message
    assert h.screen == "reasons"
    assert h.screen_widget().ids.message.text == "请至少选择一项原因"
    h.tap(h.reason_button("拖拉推诿"))
    h.tap(h.reason_button("其他"))
    assert h.reason_button("拖拉推诿").selected and h.reason_button("拖拉推诿").text.startswith("✓")
    assert h.screen_widget().other_open
    h.screen_widget().ids.other.text = "窗口人员太少"
    h.screenshot("04_reasons", shots)
    h.tap(h.screen_widget().ids.confirm)
    assert h.screen == "phone"

    for digit in "13800138000":
        h.tap(h.key_button("phone", digit))
    assert h.screen_widget().ids.display.text == "138****8000"
    assert h.screen_widget().complete
    h.screenshot("05_phone", shots)
    h.tap(h.screen_widget().ids.confirm)
    assert h.screen == "rating"
    assert h.screen_widget().ids.matter.text == "第 2/2 项：户口迁移登记"

    h.advance(31)                                    # walked off for a moment: reminder
    assert h.root.ids.reminder.active
    h.screenshot("06_reminder", shots)
    h.tap(h.rating_button("satisfied"))
    assert h.screen == "thanks"
    assert not h.root.ids.reminder.active
    h.screenshot("07_thanks", shots)
    h.advance(3.5)
    assert h.screen == "idle"

    recs = h.records()
    assert [(r["matter_name"], r["rating"]) for r in recs] == [
        ("居民身份证申领", "dissatisfied"), ("户口迁移登记", "satisfied")]
    bad = recs[0]
    assert bad["reasons"] == ["拖拉推诿", "其他"] and bad["comment"] == "窗口人员太少"
    assert bad["contact_phone"] == "13800138000" and bad["satisfaction_code"] == 4
    assert bad["due_at"] is not None
    assert recs[1]["reasons"] == [] and recs[1]["contact_phone"] is None
    assert h.done == [("A023", 2, 0)]


def test_five_level_evaluation_bad_review_without_phone(ui):
    h = ui(scale=5)
    h.event("finish", "B101", matters=(("M09", "不动产登记"),))
    assert [b.text for b in reversed(h.screen_widget("rating").ids.buttons.children)] == [
        "非常满意", "满意", "基本满意", "不满意", "非常不满意"]
    h.screenshot("03_rating_5", SCREENS_DIR)
    h.tap(h.rating_button("very_dissatisfied"))
    h.tap(h.reason_button("乱收费"))
    h.tap(h.screen_widget().ids.confirm)
    h.tap(h.key_button("phone", "1"))
    h.tap(h.key_button("phone", "del"))
    h.tap(h.screen_widget().ids.skip)
    assert h.screen == "thanks"
    [rec] = h.records()
    assert (rec["rating"], rec["rating_label"], rec["satisfaction_code"]) == ("very_dissatisfied", "非常不满意", 5)
    assert rec["reasons"] == ["乱收费"] and rec["contact_phone"] is None and rec["scale"] == 5
    assert h.done == [("B101", 1, 0)]


def test_tap_in_first_300_ms_of_a_screen_and_second_tap_are_ignored(ui):
    h = ui()
    h.event("finish", "A024")
    h.tap(h.rating_button("satisfied"), wait=0.1)     # carry-over from the staff's tap
    assert h.screen == "rating" and h.records() == []
    h.tap(h.rating_button("satisfied"), wait=0.5)
    h.tap(h.rating_button("dissatisfied"), wait=0)    # the thank-you is up: a late second tap
    assert h.screen == "thanks"
    assert [r["rating"] for r in h.records()] == ["satisfied"]


def test_walk_away_is_recorded_unrated_after_reminder(ui):
    h = ui()
    h.event("finish", "A025", matters=MATTERS)
    h.advance(30)
    assert h.root.ids.reminder.active
    h.advance(30)
    assert h.screen in ("thanks", "idle")
    assert not h.root.ids.reminder.active
    assert [(r["result"], r["unrated_reason"]) for r in h.records()] == [("unrated", "timeout")] * 2
    assert h.done == [("A025", 0, 2)]


def test_ticket_events_from_the_source_thread_reach_the_screen(ui):
    h = ui()
    from kiosk.events import Matter, TicketEvent
    ev = TicketEvent(kind="finish", ticket="C007", window="03", staff_name="王芳",
                     matters=(Matter("M01", "社保卡补办"),))
    t = threading.Thread(target=h.app.post_event, args=(ev,))
    t.start()
    t.join(5)
    for _ in range(50):                    # bounded: a few frames are enough
        if h.screen == "rating":
            break
        h.pump(1)
    assert h.screen == "rating"
    assert "社保卡补办" in h.screen_widget().ids.matter.text


def test_escape_and_window_close_are_vetoed(ui):
    h = ui()
    assert h.window.dispatch("on_request_close") is True
    assert h.app._on_keyboard(h.window, 27) is True
    assert h.app._on_keyboard(h.window, 13) is False


def _corner_taps(h, n=5):
    w, hh = h.window.size
    for _ in range(n):
        h.tap_at(w - 5, hh - 5)
    h.pump(2)


def test_corner_gesture_and_pin_open_the_admin_screen(ui):
    h = ui()
    h.event("finish", "A026")
    _corner_taps(h, 4)
    assert h.screen == "rating"                # four taps are not enough
    _corner_taps(h, 1)
    assert h.screen == "admin_pin"
    h.screenshot("08_admin_pin", SCREENS_DIR)
    for d in "0000":
        h.tap(h.key_button("admin_pin", d), wait=0)
    h.tap(h.key_button("admin_pin", "ok"), wait=0)
    assert h.screen == "admin_pin"
    assert h.screen_widget().ids.message.text == "密码错误"
    for d in ADMIN_PIN:
        h.tap(h.key_button("admin_pin", d), wait=0)
    h.tap(h.key_button("admin_pin", "ok"), wait=0)
    assert h.screen == "admin"
    info = h.screen_widget().ids.info.text
    assert "设备编号：tab-03" in info and "待上传记录：0" in info and "隔离记录：0" in info
    h.screenshot("09_admin", SCREENS_DIR)
    h.tap(h.screen_widget().ids.back, wait=0)
    assert h.screen == "rating"                # the evaluation is still there


def test_test_mode_banner_shows_on_every_screen_and_leaves_the_buttons_tappable(ui):
    normal = ui()
    assert normal.root.ids.test_banner.opacity == 0 and normal.root.ids.test_banner.height == 0
    normal.close()
    h = ui(test_mode=True)
    banner = h.root.ids.test_banner
    assert (banner.opacity, banner.text) == (1, "测试模式 · 评价不上报") and banner.height > 0
    h.event("finish", "T001")
    h.screenshot("10_test_mode_rating", SCREENS_DIR)
    assert banner.opacity == 1 and h.screen == "rating"
    h.tap(h.rating_button("satisfied"))
    assert h.screen == "thanks" and [r["rating"] for r in h.records()] == ["satisfied"]
    assert "测试模式：开" in "\n".join(h.app.admin_lines())


def test_admin_screen_left_open_returns_to_the_citizens_screen(ui):
    h = ui()
    _corner_taps(h, 5)
    for d in ADMIN_PIN:
        h.tap(h.key_button("admin_pin", d), wait=0)
    h.tap(h.key_button("admin_pin", "ok"), wait=0)
    assert h.screen == "admin"
    h.advance(100)
    assert h.screen == "admin"                 # still in use
    h.advance(25)
    assert h.screen == "idle"                  # 120 s without a touch: closed
    _corner_taps(h, 5)
    h.advance(60)
    h.tap(h.key_button("admin_pin", "1"), wait=0)   # a key press keeps it open
    h.advance(100)
    assert h.screen == "admin_pin"
    h.advance(25)
    assert h.screen == "idle"


def test_wrong_pins_lock_the_admin_gate(ui):
    h = ui()
    _corner_taps(h)
    for _ in range(4):
        for d in "1111":
            h.tap(h.key_button("admin_pin", d), wait=0)
        h.tap(h.key_button("admin_pin", "ok"), wait=0)
    assert "错误次数过多" in h.screen_widget().ids.message.text
    for d in ADMIN_PIN:                          # even the right PIN is not checked while locked
        h.tap(h.key_button("admin_pin", d), wait=0)
    h.tap(h.key_button("admin_pin", "ok"), wait=0)
    assert h.screen == "admin_pin"
    h.tap(h.screen_widget().ids.cancel, wait=0)
    assert h.screen == "idle"


def test_without_a_pin_hash_the_admin_screen_cannot_be_opened(ui):
    h = ui(pin_hash=None)
    _corner_taps(h, 10)
    assert h.screen == "idle"


def test_configured_reasons_are_the_buttons(ui):
    h = ui(reasons=("排队时间长", "材料要求不清", "其他"))
    h.event("finish", "A031")
    h.tap(h.rating_button("dissatisfied"))
    assert sorted(b.reason for b in h.screen_widget().ids.grid.children) == sorted(
        ("排队时间长", "材料要求不清", "其他"))


def test_admin_exit_stops_the_app_and_only_then_allows_closing(ui):
    h = ui()
    _corner_taps(h)
    for d in ADMIN_PIN:
        h.tap(h.key_button("admin_pin", d), wait=0)
    h.tap(h.key_button("admin_pin", "ok"), wait=0)
    assert h.window.dispatch("on_request_close") is True
    h.tap(h.screen_widget("admin").ids.exit, wait=0)
    assert h.app._exiting
    assert h.app._tick_event is None                  # App.stop ran on_stop: the flow is no longer ticked
    assert h.app._veto_close() is False


def test_an_evaluation_open_at_a_crash_is_shown_again_at_start(tmp_path):
    first = UiHarness(tmp_path, scale=3)
    try:
        first.event("finish", "A040", matters=MATTERS)
        first.tap(first.rating_button("satisfied"))
        assert first.screen_widget().ids.matter.text == "第 2/2 项：户口迁移登记"
    finally:
        first.close()                    # the process dies here, mid-ticket
    again = UiHarness(tmp_path, scale=3, start=first.t)
    try:
        assert again.screen == "rating"
        assert again.screen_widget().ids.matter.text == "第 2/2 项：户口迁移登记"
        again.tap(again.rating_button("basically_satisfied"))
        assert [(r["matter_name"], r["rating"]) for r in again.records()] == [
            ("居民身份证申领", "satisfied"), ("户口迁移登记", "basically_satisfied")]
    finally:
        again.close()


def test_first_question_reminder_and_thanks_ask_for_voice_prompts(ui, tmp_path):
    sounds = Sounds(0.5, folder=tmp_path / "no-sounds")      # files missing: logged, never raised
    h = ui(sounds=sounds)
    h.event("finish", "A041")
    h.advance(31)
    h.tap(h.rating_button("satisfied"))
    assert sounds.played == ["rate", "reminder", "thanks"]
