"""The dashboard's 绩效考核报表 (center/web/report.py): the same numbers as
the statistics page for the same period and grouping (both pages parsed),
the handler's scope, the print view, the CSV and XLSX downloads, and
`hall-center report`."""
import csv
import io
import json
import re

import pytest
from fastapi.testclient import TestClient
from openpyxl import load_workbook

from center.api import create_app
from center.cli import main
from center.config import load_config
from center.service import Center
from tests.support.assessment import NOW, fill
from tests.support.center import Clock, make_center, write_config
from tests.support.web import login, table_rows

PERIOD = {"start": "2026-11-01", "end": "2026-11-30"}
# the statistics page's columns, which the report repeats
SHARED = ("记录数", "参评数", "好评", "差评", "好评率", "差评率", "参评率", "差评工单", "已办结", "按时办结")
UNIT = {"department": "部门", "window": "窗口", "staff": "工作人员"}


@pytest.fixture(scope="module")
def center(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("report")
    c = make_center(f"sqlite:///{tmp / 'c.sqlite3'}", tmp, clock=Clock(NOW))
    fill(c)
    c.add_user("chen", "supervisor", "chen-pass-1")
    c.add_user("wang", "handler", "wang-pass-1", "03")
    yield c
    c.engine.dispose()


@pytest.fixture(scope="module")
def app(center):
    return create_app(center)


@pytest.fixture(scope="module")
def chen(app):
    return login(app, "chen", "chen-pass-1")


def by_unit(rows, unit):
    return {r[unit]: r for r in rows}


@pytest.mark.parametrize("by", ["department", "window", "staff"])
def test_the_reports_numbers_are_the_statistics_pages(chen, by):
    stats_page = chen.get("/stats", params={**PERIOD, "by": by})
    report_page = chen.get("/report", params={**PERIOD, "by": by})
    assert stats_page.status_code == report_page.status_code == 200
    unit = UNIT[by]
    stats_rows = by_unit(table_rows(stats_page.text, "stats"), unit)
    report_rows = by_unit(table_rows(report_page.text, "report"), unit)
    total = report_rows.pop("合计")
    assert set(report_rows) == set(stats_rows) and len(stats_rows) >= 3
    for label, s in stats_rows.items():
        assert {h: report_rows[label][h] for h in SHARED} == {h: s[h] for h in SHARED}, label
    # and the totals line is the statistics page's 合计
    assert f'id="good-rate">{total["好评率"]}<' in stats_page.text
    assert f'id="bad-rate">{total["差评率"]}<' in stats_page.text
    assert f'id="participation">{total["参评率"]}<' in stats_page.text


def test_the_report_page_has_ranks_channels_rates_and_the_charts(chen):
    page = chen.get("/report", params={**PERIOD, "by": "window"}).text
    rows = by_unit(table_rows(page, "report"), "窗口")
    assert [(r["排名"], w) for w, r in rows.items()] == [
        ("1", "未登记（07）"), ("2", "03 不动产登记窗口"), ("3", "04 不动产查询窗口"), ("3", "05 医保窗口"), ("", "合计")]
    w05, w03 = rows["05 医保窗口"], rows["03 不动产登记窗口"]
    assert (w05["PC端"], w05["移动服务端"], w05["政务大厅平板电脑"], w05["整改率"]) == ("2", "1", "2", "100.0%")
    assert (w03["按时办结"], w03["有效工单"], w03["按时办结率"], w03["回访核实"], w03["回访一致率"]) == \
        ("1", "1", "100.0%", "4", "75.0%")
    assert "排名规则：按好评率从高到低" in page
    for kind in ("trend", "distribution", "ranking"):
        assert f'data-kind="{kind}" data-src="{kind}-data"' in page
    ranking = json.loads(re.search(r'id="ranking-data">(.*?)</script>', page).group(1))
    assert ranking["units"][:2] == ["未登记（07）", "03 不动产登记窗口"] and ranking["ranks"] == [1, 2, 3, 3]
    assert 'href="/report.xlsx?start=2026-11-01&amp;end=2026-11-30&amp;by=window"' in page
    assert '<script src="/static/vendor/echarts/echarts.min.js" defer></script>' in page
    assert "<script>" not in page                                   # no inline script (CSP)


def test_a_handler_sees_only_their_window(app):
    cl = login(app, "wang", "wang-pass-1")
    rows = by_unit(table_rows(cl.get("/report", params={**PERIOD, "by": "staff"}).text, "report"), "工作人员")
    assert set(rows) == {"0301 李明", "0302 周敏", "合计"} and rows["合计"]["记录数"] == "9"
    xlsx = load_workbook(io.BytesIO(cl.get("/report.xlsx", params={**PERIOD, "by": "window"}).content))
    labels = [r[1].value for r in xlsx.active.iter_rows(min_row=5) if r[1].value]
    assert labels[:2] == ["03 不动产登记窗口", "合计"]


def test_the_report_and_its_downloads_need_a_login(app):
    cl = TestClient(app)
    for path in ("/report", "/report/print", "/report.csv", "/report.xlsx"):
        r = cl.get(path, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/login", path


def test_the_xlsx_download_is_the_pages_report(chen):
    r = chen.get("/report.xlsx", params={**PERIOD, "by": "department"})
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml")
    assert 'filename="hall-assessment-department-20261101-20261130.xlsx"' in r.headers["content-disposition"]
    ws = load_workbook(io.BytesIO(r.content)).active
    assert ws.title == "绩效考核" and ws.freeze_panes == "C5"
    head = [c.value for c in ws[4]]
    page = by_unit(table_rows(chen.get("/report", params={**PERIOD, "by": "department"}).text, "report"), "部门")
    for line in ws.iter_rows(min_row=5, max_row=8):
        cells = dict(zip(head, line))
        shown = page[cells["部门"].value]
        for h in ("记录数", "参评数", "好评", "差评", "差评工单"):
            assert cells[h].value == int(shown[h]) and isinstance(cells[h].value, int), h
        for h in ("好评率", "差评率", "参评率", "整改率"):
            v = cells[h].value
            assert (shown[h] == "—" and v is None) or f"{v * 100:.1f}%" == shown[h], h


def test_the_csv_download_has_the_same_lines(chen):
    r = chen.get("/report.csv", params={**PERIOD, "by": "window"})
    assert r.content.startswith("\ufeff".encode()) and "attachment" in r.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert [x["窗口"] for x in rows] == ["未登记（07）", "03 不动产登记窗口", "04 不动产查询窗口", "05 医保窗口", "合计"]
    assert rows[1]["好评率"] == "85.7%" and rows[1]["排名"] == "2" and rows[-1]["记录数"] == "21"


def test_the_print_view_is_laid_out_for_a4_landscape(chen, app):
    page = chen.get("/report/print", params={**PERIOD, "by": "staff"}).text
    assert '<link rel="stylesheet" href="/static/report-print.css">' in page
    assert 'id="report-title">政务服务好差评绩效考核报表（按工作人员）<' in page
    assert "统计时段：2026年11月1日 至 2026年11月30日" in page
    assert len(table_rows(page, "report")) == 6                    # five people and the total
    css = TestClient(app).get("/static/report-print.css").text
    assert "@page { size: A4 landscape;" in css


def test_an_unknown_grouping_falls_back_to_departments(chen):
    page = chen.get("/report", params={**PERIOD, "by": "matter"}).text
    assert "按部门" in page and "县医疗保障局" in page


# ------------------------------------------------------------------ hall-center report

@pytest.fixture
def config(tmp_path):
    path = write_config(tmp_path, str(tmp_path / "center.sqlite3"))
    c = Center(load_config(path), clock=Clock(NOW))
    c.migrate()
    fill(c)
    c.engine.dispose()
    return path


def test_the_report_command_prints_the_table(config, capsys):
    assert main(["report", "--config", str(config), "--from", "2026-11-01", "--to", "2026-11-30",
                 "--by", "window"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "政务服务好差评绩效考核报表（按窗口）"
    assert out[1] == "统计时段：2026年11月1日 至 2026年11月30日"
    lines = [x.split() for x in out[3:]]
    assert lines[0][:4] == ["排名", "窗口", "记录数", "参评数"]
    assert lines[2][:3] == ["1", "未登记（07）", "2"] and lines[3][:4] == ["2", "03", "不动产登记窗口", "9"]
    assert lines[6][:2] == ["合计", "21"]


def test_the_report_command_writes_the_xlsx(config, tmp_path, capsys):
    out = tmp_path / "考核.xlsx"
    assert main(["report", "--config", str(config), "--from", "2026-11-01", "--to", "2026-11-30",
                 "--by", "staff", "--xlsx", str(out)]) == 0
    assert str(out) in capsys.readouterr().out
    ws = load_workbook(out).active
    assert ws["A1"].value == "政务服务好差评绩效考核报表（按工作人员）"
    assert [r[1].value for r in ws.iter_rows(min_row=5, max_row=10)] == [
        "未登记（0701 孙丽）", "0302 周敏", "0301 李明", "0401 王芳", "0501 赵强", "合计"]


def test_the_report_command_refuses_bad_dates(config, capsys):
    with pytest.raises(SystemExit) as e:
        main(["report", "--config", str(config), "--from", "2026-11-31", "--to", "2026-11-30"])
    assert e.value.code == 2 and "'2026-11-31' is not a date YYYY-MM-DD" in capsys.readouterr().err
    assert main(["report", "--config", str(config), "--from", "2026-11-30", "--to", "2026-11-01"]) == 2
    assert "--from 2026-11-30 is after --to 2026-11-01" in capsys.readouterr().err
