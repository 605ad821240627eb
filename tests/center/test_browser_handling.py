"""The handling mechanism in Debian's headless Chromium (Playwright), on the
real center server: an overdue bad review goes 交办 → 督办 → 整改 → 回访 →
二次评价 → closed, between the center's supervisor and the window's
handler; and a structural case closes onto the rectification list, which
the supervisor tracks to done, with the directory page. Screenshots go to
test-output/center/ (handling-*.png). `browser_page` is tests/support/browser.py's."""
from datetime import datetime, timedelta

from playwright.sync_api import expect
import requests

from center.cli import main
from hallcore.hallclock import DEFAULT_TZ
from tests.support.center import make_vote
from tests.support.paths import CONFIG, TEST_OUTPUT

OUT = TEST_OUTPUT / "center"


def setup(c, *, days_ago: int) -> None:
    c.add_user("chen", "supervisor", "chen-pass-1")
    c.add_user("wang", "handler", "wang-pass-1", "03")
    assert main(["directory", "import", str(CONFIG / "directory.example.toml"), "--yes",
                 "--config", str(c.config_path)]) == 0
    voted = datetime.now(DEFAULT_TZ).replace(microsecond=0) - timedelta(days=days_ago)
    r = requests.post(c.url + "/api/v1/votes", headers=c.auth, timeout=10,
                      json={"device_id": c.device_id, "votes": [make_vote(c.device_id, 1, bad=True, at=voted)]})
    assert [x["status"] for x in r.json()["results"]] == ["stored"]


def log_in(page, c, name: str, password: str) -> None:
    if page.locator("header form button").count():
        page.click("header form button")                      # 退出
    page.goto(c.url + "/login")
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    expect(page.locator("header")).to_contain_text(name)


def submit(page, action: str, **fields) -> None:
    form = page.locator(f"#form-{action}")
    for name, value in fields.items():
        field = form.locator(f"[name={name}]")
        if field.first.get_attribute("type") == "radio":
            form.locator(f"[name={name}][value={value}]").check()
        elif field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(value)
        else:
            field.fill(value)
    form.locator("button[type=submit]").click()
    expect(page.locator("#error")).to_have_count(0)


def test_a_case_goes_from_assign_to_second_evaluation_and_closes_in_the_browser(running_center, browser_page):
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    setup(c, days_ago=10)                                    # overdue: the center steps in
    log_in(page, c, "chen", "chen-pass-1")
    row = page.locator("#cases tr[data-case]")
    expect(row).to_have_count(1)
    expect(row.locator(".window")).to_have_text("03 不动产登记窗口")
    expect(row.locator(".staff")).to_have_text("1024 张三")
    expect(row).to_have_class("overdue")
    row.locator("a").first.click()
    expect(page.locator("#department")).to_have_text("县不动产登记中心")

    submit(page, "assign", department="县不动产登记中心", content="群众反映窗口办理拖延，请核实原因并答复群众",
           warning_code="YJ01")
    expect(page.locator("#assigned")).to_contain_text("县不动产登记中心")
    submit(page, "supervise", content="已超期，请今日内答复群众并报送整改情况")
    expect(page.locator("#notices")).to_contain_text("请今日内答复群众")
    expect(page.locator("#notices tr", has_text="交办")).to_have_count(1)
    page.screenshot(path=str(OUT / "handling-1-assigned-and-supervised.png"), full_page=True)

    log_in(page, c, "wang", "wang-pass-1")
    page.goto(c.url + "/cases/1")
    expect(page.locator("#center-actions")).to_have_count(0)   # the window sees its own work only
    submit(page, "verify")
    expect(page.locator("#state")).to_have_text("核实中")
    submit(page, "propose", note="约谈窗口人员，高峰期增开综合窗口分流")
    submit(page, "rectify", note="已增开 1 个综合窗口，高峰期平均等候由 40 分钟降至 15 分钟")
    page.locator("#form-feedback textarea[name=feedback]").fill("已电话告知群众整改措施并致歉，群众表示理解")
    page.screenshot(path=str(OUT / "handling-2-rectified-window-side.png"), full_page=True)
    submit(page, "feedback")
    expect(page.locator("#state")).to_have_text("已反馈")
    expect(page.locator("#rectification")).to_contain_text("已增开 1 个综合窗口")

    log_in(page, c, "chen", "chen-pass-1")
    page.goto(c.url + "/cases/1")
    submit(page, "visit", method="phone", reached="yes", satisfaction="satisfied", note="群众认可整改")
    expect(page.locator("#visit")).to_contain_text("已回访：电话")
    expect(page.locator("#visit")).to_contain_text("群众满意（群众认可整改）")
    submit(page, "second_evaluation", rating="satisfied")
    expect(page.locator("#second")).to_contain_text("满意（评价次数 2，电话")
    page.screenshot(path=str(OUT / "handling-3-visited-and-evaluated-again.png"), full_page=True)
    submit(page, "close")
    expect(page.locator("#state")).to_have_text("已办结")
    log = page.locator("#log")
    for step in ("交办", "督办", "开始核实", "拟办意见", "整改结果", "记录反馈", "回访", "二次评价", "办结"):
        expect(log.locator("td", has_text=step).first).to_be_visible()
    expect(log).to_contain_text("超期交办督办")                 # the worker's escalation, too
    page.screenshot(path=str(OUT / "handling-4-closed.png"), full_page=True)

    page.goto(c.url + "/cases?show_closed=1")
    expect(page.locator("#cases tr[data-case]")).to_contain_text("二次评价 满意")


def test_a_structural_case_is_tracked_on_the_rectification_list_in_the_browser(running_center, browser_page):
    c, page = running_center, browser_page
    OUT.mkdir(parents=True, exist_ok=True)
    setup(c, days_ago=1)
    log_in(page, c, "chen", "chen-pass-1")
    page.goto(c.url + "/cases/1")
    submit(page, "close_structural", note="两个系统尚未打通，已向群众解释并安排专人代办",
           content="不动产登记与税务系统未打通，群众须两次排队", target_at="2030-06-30")
    expect(page.locator("#state")).to_have_text("已办结")
    page.click("#structural a")
    expect(page.locator("#item-state")).to_have_text("待整改")
    submit(page, "start", note="与税务局联合开发数据接口")
    expect(page.locator("#item-state")).to_have_text("整改中")
    page.goto(c.url + "/rectification")
    expect(page.locator("#items tr[data-item]")).to_contain_text("不动产登记与税务系统未打通")
    page.screenshot(path=str(OUT / "handling-5-rectification-list.png"), full_page=True)
    page.goto(c.url + "/rectification/1")
    submit(page, "finish", note="接口已上线，一次排队即可办结")
    expect(page.locator("#item-state")).to_have_text("已完成")
    page.screenshot(path=str(OUT / "handling-6-rectification-done.png"), full_page=True)
    page.goto(c.url + "/directory")
    expect(page.locator("#windows")).to_contain_text("不动产登记窗口")
    page.screenshot(path=str(OUT / "handling-7-directory.png"), full_page=True)

    # a window the directory does not know: shown as such, still counted
    token = c.add_device("tab-07", "taojiang", "07")
    r = requests.post(c.url + "/api/v1/votes", headers={"Authorization": f"Bearer {token}"}, timeout=10,
                      json={"device_id": "tab-07", "votes": [make_vote("tab-07", 1, window_id="07",
                                                                        at=datetime.now(DEFAULT_TZ))]})
    assert [x["status"] for x in r.json()["results"]] == ["stored"]
    page.goto(c.url + "/stats?by=department")                 # the last 30 days
    expect(page.locator("#stats tr.unregistered")).to_contain_text("未登记（07）")
    expect(page.locator("#stats")).to_contain_text("县不动产登记中心")
    page.screenshot(path=str(OUT / "handling-8-statistics-by-department.png"), full_page=True)
    page.goto(c.url + "/directory")
    asked = []
    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.locator("#staff tr", has_text="1025").locator("button").click()
    expect(page.locator("#done")).to_have_text("已删除一项工作人员")
    assert asked == ["确定删除工作人员 1025 吗？"]
    expect(page.locator("#unregistered")).to_contain_text("未登记（07）")
