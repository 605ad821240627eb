"""The assessment report, its print view and the charts in Debian's headless
Chromium (Playwright): the vendored ECharts draws the trend over every day
of the period, the distribution of ratings and the ranking under the
Content-Security-Policy (no console error, no violation: the browser_page
fixture checks), the print view fits A4 landscape, and the date fields show
Chinese dates and take what is typed. Screenshots and the PDF go to
test-output/center/report/."""
import re
from datetime import datetime

import pytest
from playwright.sync_api import expect

from center.config import load_config
from center.ingest import ingest
from center.service import Center
from tests.support.assessment import NOW, fill
from tests.support.browser import log_in
from tests.support.center import Clock, make_vote
from tests.support.paths import TEST_OUTPUT
from hallcore.hallclock import DEFAULT_TZ

OUT = TEST_OUTPUT / "center" / "report"
PERIOD = "start=2026-11-01&end=2026-11-30"
A4_LANDSCAPE_PRINTABLE_PX = (297 - 20) / 25.4 * 96       # 277 mm between the 10 mm margins, at 96 px/in


@pytest.fixture
def hall(running_center):
    c = Center(load_config(running_center.config_path), clock=Clock(NOW))
    try:
        fill(c)
    finally:
        c.engine.dispose()
    running_center.add_user("chen", "supervisor", "chen-pass-1")
    OUT.mkdir(parents=True, exist_ok=True)
    return running_center


def chart_series(page, chart_id: str) -> list[dict]:
    """The series data ECharts holds for a chart (after charts.js drew it)."""
    expect(page.locator(f"#{chart_id}")).to_have_attribute("data-rendered", "1")
    return page.evaluate("""id => {
        const c = echarts.getInstanceByDom(document.getElementById(id));
        return c.getOption().series.map(s => ({name: s.name, type: s.type, data: s.data,
                                                connectNulls: s.connectNulls, showSymbol: s.showSymbol}));
    }""", chart_id)


def drawn_shapes(page, chart_id: str) -> int:
    """Paths the SVG renderer drew (axes, lines, bars, sectors): a chart that drew nothing has few."""
    return page.evaluate("id => document.querySelectorAll('#' + id + ' svg path').length", chart_id)


def test_the_report_page_with_its_charts_and_the_print_view(hall, browser_page):
    c, page = hall, browser_page
    log_in(page, c.url, "chen", "chen-pass-1")
    page.goto(f"{c.url}/report?{PERIOD}&by=window")
    expect(page.locator("#report-title")).to_have_text("政务服务好差评绩效考核报表（按窗口）")
    expect(page.locator("input[name=start]")).to_have_value("2026年11月1日")
    rows = page.locator("#report tbody tr")
    expect(rows).to_have_count(5)
    expect(rows.nth(0).locator("[data-col=unit]")).to_have_text("未登记（07）")
    expect(rows.nth(1).locator("[data-col=good-rate]")).to_have_text("85.7%")

    trend = chart_series(page, "trend-data-chart")
    assert [s["name"] for s in trend] == ["评价数", "好评率", "差评率"]
    assert all(len(s["data"]) == 30 for s in trend)             # every day of November
    # 25th: 7 good; 26th: 6 of 7; 27th: 3 of 5 scored (one bad review upheld on appeal)
    assert trend[1]["data"][24:27] == [100.0, 85.7, 60.0] and trend[1]["data"][0] is None
    dist = chart_series(page, "distribution-data-chart")
    assert {d["name"]: d["value"] for d in dist[0]["data"]} == {
        "满意": 15, "基本满意": 1, "不满意": 3, "未评价": 1, "申诉成立（不计分）": 1}
    ranking = chart_series(page, "ranking-data-chart")
    assert ranking[0]["data"] == [100.0, 85.7, 80.0, 80.0]
    for chart in ("trend-data-chart", "distribution-data-chart", "ranking-data-chart"):
        assert drawn_shapes(page, chart) > 5, chart
    page.screenshot(path=str(OUT / "01-report.png"), full_page=True)

    page.click("#print-view")
    expect(page).to_have_url(re.compile(r"/report/print\?"))
    expect(page.locator("#report tbody tr")).to_have_count(5)
    page.screenshot(path=str(OUT / "02-print-view-screen.png"), full_page=True)

    # printed: the table inside the printable width of an A4 landscape page
    page.emulate_media(media="print")
    page.set_viewport_size({"width": round(A4_LANDSCAPE_PRINTABLE_PX), "height": 700})
    width = page.evaluate("document.querySelector('#report').getBoundingClientRect().right")
    overflow = page.evaluate("document.documentElement.scrollWidth")
    assert width <= A4_LANDSCAPE_PRINTABLE_PX + 0.5 and overflow <= A4_LANDSCAPE_PRINTABLE_PX + 0.5
    assert page.locator(".toolbar").is_hidden()
    pdf = page.pdf(format="A4", landscape=True, prefer_css_page_size=True, print_background=True)
    (OUT / "03-print-view.pdf").write_bytes(pdf)
    boxes = re.findall(rb"/MediaBox \[0 0 ([\d.]+) ([\d.]+)\]", pdf)
    assert boxes and all(abs(float(w) - 841.89) < 1 and abs(float(h) - 595.28) < 1 for w, h in boxes)
    page.screenshot(path=str(OUT / "04-print-view-printed.png"), full_page=True)


def test_the_statistics_charts_and_the_chinese_date_fields(hall, browser_page):
    c, page = hall, browser_page
    log_in(page, c.url, "chen", "chen-pass-1")
    page.goto(f"{c.url}/stats?{PERIOD}&by=department")
    expect(page.locator("input[name=end]")).to_have_value("2026年11月30日")
    trend = chart_series(page, "trend-data-chart")
    assert len(trend[0]["data"]) == 30 and trend[1]["connectNulls"] and trend[1]["showSymbol"]
    ranking = chart_series(page, "ranking-data-chart")
    assert ranking[0]["data"] == [100.0, 83.3, 80.0]
    labels = page.evaluate("echarts.getInstanceByDom(document.getElementById('ranking-data-chart'))"
                           ".getOption().yAxis[0].data")
    assert labels == ["第1名 未登记（07）", "第2名 县不动产登记中心", "第3名 县医疗保障局"]
    for chart in ("trend-data-chart", "distribution-data-chart", "ranking-data-chart"):
        assert drawn_shapes(page, chart) > 5, chart
    page.screenshot(path=str(OUT / "05-statistics-charts.png"), full_page=True)

    # typed in another form, shown in Chinese; the calendar's pick too
    start = page.locator("input[name=start]")
    start.fill("2026/11/26")
    start.dispatch_event("change")
    expect(start).to_have_value("2026年11月26日")
    page.evaluate("""() => {
        const p = document.querySelector('input[name=end] ~ input.hall-date-picker');
        p.value = '2026-11-27'; p.dispatchEvent(new Event('change'));
    }""")
    expect(page.locator("input[name=end]")).to_have_value("2026年11月27日")
    page.click("input[name=start] + button.hall-date-button")      # opens the browser's calendar
    page.keyboard.press("Escape")
    expect(start).to_have_value("2026年11月26日")
    page.click("form[action='/stats'] button[type=submit]")
    expect(page.locator(".card h2").first).to_have_text("合计（2026年11月26日 至 2026年11月27日）")
    assert "start=2026%E5%B9%B411%E6%9C%8826%E6%97%A5" in page.url       # sent as shown: 2026年11月26日
    trend = chart_series(page, "trend-data-chart")
    assert len(trend[1]["data"]) == 2


def test_a_new_halls_trend_spans_the_whole_month(running_center, browser_page):
    """The bug of the SVG chart: a hall with one day of ratings showed two lone dots."""
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    hall = Center(load_config(c.config_path), clock=Clock(NOW))
    try:
        at = datetime(2026, 11, 30, 9, 0, tzinfo=DEFAULT_TZ)
        assert {a["status"] for a in ingest(hall, c.device_id, [
            make_vote(c.device_id, 1, at=at), make_vote(c.device_id, 2, at=at),
            make_vote(c.device_id, 3, at=at, bad=True)])} == {"stored"}
    finally:
        hall.engine.dispose()
    c.add_user("chen", "supervisor", "chen-pass-1")
    log_in(page, c.url, "chen", "chen-pass-1")
    page.goto(f"{c.url}/stats?start=2026-11-01&end=2026-11-30")
    trend = chart_series(page, "trend-data-chart")
    assert len(trend[1]["data"]) == 30 and trend[1]["data"][-1] == 66.7 and trend[2]["data"][-1] == 33.3
    assert trend[0]["data"][-1] == 3 and trend[0]["data"][:29] == [0] * 29
    axis = page.evaluate("echarts.getInstanceByDom(document.getElementById('trend-data-chart'))"
                         ".getOption().xAxis[0].data")
    assert axis[0] == "11月1日" and axis[-1] == "11月30日" and len(axis) == 30
    page.locator("#trend").screenshot(path=str(OUT / "06-new-hall-trend.png"))


def test_the_print_view_fits_a4_landscape_with_every_channel(running_center, browser_page):
    """The widest report: a column for each of the seven channels, long names."""
    from center.integration import IntegrationSender, add_client, device_id_of
    from center.ingest import ingest_from
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    hall = Center(load_config(c.config_path), clock=Clock(NOW))
    try:
        at = datetime(2026, 11, 27, 9, 0, tzinfo=DEFAULT_TZ)
        assert ingest(hall, c.device_id, [make_vote(c.device_id, 1, at=at, staff_name="<i>欧阳晓明</i>")])[0]["status"] \
            == "stored"
        add_client(hall, "county", "taojiang")
        sender = IntegrationSender("county", "taojiang")
        for seq, channel in enumerate(("pc", "mobile", "qr", "hall_terminal", "phone", "sms"), 1):
            vote = make_vote(device_id_of("county"), seq, at=at, channel=channel, staff_id=f"10{seq}",
                             staff_name="司马相如如意", window_id=f"2{seq}")
            assert ingest_from(hall, sender, [vote])[0]["status"] == "stored"
    finally:
        hall.engine.dispose()
    c.add_user("chen", "supervisor", "chen-pass-1")
    log_in(page, c.url, "chen", "chen-pass-1")
    page.goto(f"{c.url}/report/print?{PERIOD}&by=staff")
    expect(page.locator("#report thead th")).to_have_count(25)               # 18 columns and 7 channels
    page.emulate_media(media="print")
    page.set_viewport_size({"width": round(A4_LANDSCAPE_PRINTABLE_PX), "height": 700})
    assert page.evaluate("document.querySelector('#report').getBoundingClientRect().right") \
        <= A4_LANDSCAPE_PRINTABLE_PX + 0.5
    assert page.evaluate("document.documentElement.scrollWidth") <= A4_LANDSCAPE_PRINTABLE_PX + 0.5
    (OUT / "07-print-every-channel.pdf").write_bytes(page.pdf(format="A4", landscape=True,
                                                              prefer_css_page_size=True))
    page.screenshot(path=str(OUT / "07-print-every-channel.png"), full_page=True)
    expect(page.locator("#report")).to_contain_text("<i>欧阳晓明</i>")     # a name is text, never markup

    page.emulate_media(media="screen")
    page.goto(f"{c.url}/report?{PERIOD}&by=staff")
    chart_series(page, "ranking-data-chart")
    tip = page.evaluate("""() => {
        const c = echarts.getInstanceByDom(document.getElementById('ranking-data-chart'));
        const labels = c.getOption().yAxis[0].data, i = labels.findIndex(l => l.includes('欧阳'));
        return c.getOption().tooltip[0].formatter([{dataIndex: i}]);
    }""")
    assert "&lt;i&gt;欧阳晓明&lt;/i&gt;" in tip and "<i>" not in tip
