"""The kiosk and the center's bundle (kiosk/bundlewatch.py, KioskApp.check_bundle),
offscreen on the real flow, journal and outbox: a bundle written while a
citizen is being asked waits until the flow is idle; pinned keys keep the
tablet file's values; the bundle's calendar is the one the tablet's
deadlines use; test mode switches the outbox; a bundle file that does not
read is not used; the window's staff show on the idle screen (screenshots
under test-output/screens/)."""
from __future__ import annotations


from kiosk.config import TEST_OUTBOX
from kiosk.ui.app import shown_staff
from tests.support.bundles import png, sealed, staff_entry, tampered, write_bundle
from tests.support.kioskui import UiHarness

MATTERS = (("M01", "居民身份证申领"), ("M02", "户口迁移登记"))
NEW_REASONS = ["窗口人员不足", "等候时间太长", "其他"]


def folder(h: UiHarness):
    return h.config.tablet.storage


def bad_review(h: UiHarness, reason: str) -> None:
    h.tap(h.rating_button("dissatisfied"))
    assert h.screen == "reasons"
    h.tap(h.reason_button(reason))
    h.tap(h.screen_widget().ids.confirm)
    assert h.screen == "phone"
    h.tap(h.screen_widget().ids.skip)


def test_a_bundle_arriving_mid_evaluation_waits_until_the_flow_is_idle(ui):
    h = ui()
    h.event("call", "A001")
    assert h.screen == "serving"
    write_bundle(folder(h), sealed(kiosk={"scale": 5, "reasons": NEW_REASONS, "timeout_s": 120}))
    h.advance(1)
    assert h.app.waiting_config is not None and h.flow.settings.scale == 3     # serving: someone is there
    h.event("finish", "A001", matters=MATTERS)
    assert h.screen == "rating" and len(h.screen_widget().ids.buttons.children) == 3
    h.advance(1)
    bad_review(h, "拖拉推诿")                      # the old reasons are on screen, and stay
    assert h.screen == "rating" and len(h.screen_widget().ids.buttons.children) == 3
    assert h.flow.settings.scale == 3 and "拖拉推诿" in h.flow.settings.reasons
    h.tap(h.rating_button("satisfied"))
    assert h.screen == "thanks" and h.app.waiting_config is not None
    h.advance(3.5)                                 # thank-you over: idle, and the bundle applies
    assert h.screen == "idle" and h.app.waiting_config is None
    assert h.flow.settings.scale == 5 and list(h.flow.settings.reasons) == NEW_REASONS
    assert h.flow.settings.timeout_s == 120.0
    first = h.records()
    assert [(r["scale"], r.get("reasons")) for r in first] == [(3, ["拖拉推诿"]), (3, [])]

    h.event("finish", "A002")                      # the next citizen gets the new questions
    assert len(h.screen_widget().ids.buttons.children) == 5
    h.advance(1)
    h.tap(h.rating_button("very_dissatisfied"))
    assert {b.reason for b in h.screen_widget().ids.grid.children} == set(NEW_REASONS)


def test_an_evaluation_keeps_its_own_timeout_when_a_bundle_changes_it(ui):
    h = ui()
    h.event("finish", "A001")
    write_bundle(folder(h), sealed(kiosk={"timeout_s": 600}))
    h.advance(61)                                  # the 60 s it started with
    assert h.screen == "idle"
    assert h.records()[0]["unrated_reason"] == "timeout"
    assert h.flow.settings.timeout_s == 600.0      # applied once the walk-away ended it


def test_pinned_keys_keep_the_tablet_file_s_values(ui):
    h = ui(changes={"bundle.pinned": ["reasons", "timeout_s", "staff"], "kiosk.timeout_s": 45.0})
    write_bundle(folder(h), sealed(kiosk={"reasons": NEW_REASONS, "timeout_s": 120, "thanks_s": 5},
                                   staff=[staff_entry("1024", "张三")]))
    h.advance(1)
    s = h.flow.settings
    assert s.timeout_s == 45.0 and "拖拉推诿" in s.reasons and s.thanks_s == 5.0
    assert h.app.staff == () and h.app.kiosk_config.bundle is not None
    assert any("本机锁定：reasons, staff, timeout_s" in line for line in h.app.admin_lines())
    h.app.show_admin()
    assert "本机锁定" in h.screen_widget("admin").ids.info.text
    h.screenshot("bundle_admin_pinned")


def test_the_bundle_s_calendar_sets_the_deadline_the_tablet_computes(ui):
    # (record times must be near the real clock, so a day off of 2026 stands in for a new year's schedule)
    h = ui()                                       # Friday 2026-11-27
    h.event("finish", "A001")
    h.advance(1)
    bad_review(h, "拖拉推诿")
    before = h.records()[-1]
    assert before["due_at"].startswith("2026-12-01T17:30")          # Monday 30th, Tuesday 1st
    h.advance(4)
    write_bundle(folder(h), sealed(holidays='[2026]\nholidays = ["2026-11-30..2026-12-01"]\n'))
    h.advance(1)
    assert h.flow.settings.calendar.year_source(2026) == "override"
    h.event("finish", "A002")
    h.advance(1)
    bad_review(h, "拖拉推诿")
    after = h.records()[-1]                         # the center's two days off: Wednesday, Thursday
    assert after["due_at"].startswith("2026-12-03T17:30") and after["calendar_verified"] is True


def test_test_mode_from_the_bundle_switches_the_outbox_when_idle(ui):
    h = ui()
    real = h.outbox
    write_bundle(folder(h), sealed(kiosk={"test_mode": True}))
    h.advance(1)
    assert h.app.test_mode and h.outbox is not real and h.root.ids.test_banner.opacity == 1
    h.event("finish", "T001")
    h.advance(1)
    h.tap(h.rating_button("satisfied"))
    assert [r["ticket"] for r in h.records()] == ["T001"]
    assert h.outbox.folder == folder(h) / TEST_OUTBOX
    h.screenshot("bundle_test_mode")
    h.advance(4)
    write_bundle(folder(h), sealed(kiosk={"test_mode": False}))
    h.advance(1)
    assert not h.app.test_mode and h.outbox.folder == h.config.tablet.outbox_folder
    assert h.records() == []                       # the real outbox never saw the installation tap


def test_a_bundle_file_that_does_not_read_is_not_used(ui):
    h = ui()
    good = sealed(kiosk={"timeout_s": 90})
    write_bundle(folder(h), tampered(good, lambda env: env["content"]["kiosk"].update(timeout_s=900)))
    h.advance(1)
    assert h.flow.settings.timeout_s == 60.0 and h.app.kiosk_config.bundle is None
    assert h.app.watch.refused == 1 and "sha256" in h.app.watch.problem
    assert any("配置文件未采用" in line for line in h.app.admin_lines())
    write_bundle(folder(h), good)
    h.advance(1)
    assert h.flow.settings.timeout_s == 90.0 and h.app.watch.problem is None


def test_the_window_s_staff_show_on_the_idle_screen(ui):
    staff = [staff_entry("1024", "张三", png(120, 160)), staff_entry("1025", "李四"),
             staff_entry("1031", "欧阳晓明", png(90, 120))]
    for size, tag in (((1280, 800), "landscape"), ((800, 1280), "portrait"), ((1024, 600), "small")):
        h = ui(size=size)
        write_bundle(folder(h), sealed(staff=staff))
        h.advance(1)
        idle = h.screen_widget("idle")
        cards = list(reversed(idle.ids.staff_cards.children))
        assert [(c.staff_name, c.staff_id) for c in cards] == [("张三", "1024"), ("李四", "1025"),
                                                               ("欧阳晓明", "1031")]
        assert cards[0].photo is not None and tuple(cards[0].photo.size) == (120, 160)
        assert cards[1].photo is None and cards[1].initial == "李"
        assert idle.ids.staff.text == "" and idle.ids.staff_title.text == "本窗口工作人员"
        window = idle.ids.window
        assert window.top <= h.root.top and min(c.y for c in cards) >= h.root.y       # nothing cut off
        h.screenshot(f"bundle_idle_staff_{tag}")
        h.close()


def test_the_one_the_queue_system_named_comes_first():
    from hallcore.bundle import StaffCard
    cards = tuple(StaffCard(str(i), f"人{i}") for i in range(6))
    assert [c.id for c in shown_staff(cards, "人4")] == ["4", "0", "1", "2"]
    assert [c.id for c in shown_staff(cards, "")] == ["0", "1", "2", "3"]
