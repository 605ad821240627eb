"""The admin screen's lines from the real outbox and a source's status."""
from datetime import datetime

from outbox.store import Outbox
from hallcore.hallclock import DEFAULT_TZ
from hallcore.record import new_record
from kiosk.sources import SourceStatus
from kiosk.ui.adminview import admin_lines



class _Source:      # the status property of a TicketSource, as the admin screen reads it
    status = SourceStatus(connected=True, detail="127.0.0.1:1883", received=7, rejected={"garbage": 2})


class _BrokenSource:
    @property
    def status(self):
        raise OSError("port gone")


def _record(i):
    return new_record(device_id="tab-03", region_code="430922", hall_id="h", window_id="03",
                      staff_id="1", staff_name="张敏", ticket=f"A{i:03d}", case_no=None,
                      matter_code="GA001", matter_name="居民身份证换领", matter_index=1, matter_count=1,
                      scale_size=3, prompted_at=datetime(2026, 11, 27, 9, i, tzinfo=DEFAULT_TZ),
                      rating="satisfied", voted_at=datetime(2026, 11, 27, 9, i, tzinfo=DEFAULT_TZ))


def test_lines_show_queue_link_pending_quarantine_device_and_version(tmp_path):
    with Outbox(tmp_path / "outbox", "tab-03") as ob:
        stored = [ob.put(_record(i)) for i in range(3)]
        ob.quarantine(stored[0]["id"], "rejected by center: test")
        lines = admin_lines(source=_Source(), outbox=ob, flow=None, device_id="tab-03",
                            version="0.1.0", test_mode=False)
    text = "\n".join(lines)
    assert "叫号系统连接：已连接（127.0.0.1:1883）；收到 7，拒收 2" in text
    assert "待上传记录：2" in text and "隔离记录：1" in text
    assert "中心同步：待上传 2 条" in text
    assert "设备编号：tab-03" in text and "版本：0.1.0" in text and "测试模式：关" in text


def test_a_part_that_fails_shows_unknown_instead_of_crashing():
    lines = admin_lines(source=_BrokenSource(), outbox=None, flow=None, device_id="",
                        version="", test_mode=True)
    assert lines[0] == "叫号系统连接：未知"
    assert "待上传记录：未知" in lines and "测试模式：开" in lines


def test_a_wrong_clock_comes_first_on_the_admin_screen():
    class Flow:
        counters = {}
        journal_problem = None
        clock_problem = "the clock says 2000-01-01T08:00:00+08:00, before 2026-11-01"
    lines = admin_lines(source=None, outbox=None, flow=Flow(), device_id="tab-03", version="0.1.0",
                        test_mode=False)
    assert lines[0].startswith("时钟错误，暂停评价") and "2000-01-01T08:00:00+08:00" in lines[0]
    Flow.clock_problem = None
    assert not any("时钟" in x for x in admin_lines(source=None, outbox=None, flow=Flow(), device_id="tab-03",
                                                     version="0.1.0", test_mode=False))
