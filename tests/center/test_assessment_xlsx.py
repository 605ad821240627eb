"""The assessment report as XLSX (center/assessment_xlsx.py), opened again
with openpyxl as an office would: a Chinese sheet name, the title and
period, a frozen header row, column widths, counts as integers, rates as
numbers with a percent format, and a name that looks like a formula kept
as text."""
import io
from datetime import date, datetime

from openpyxl import load_workbook

from center import assessment
from center.assessment_xlsx import HEADER_ROW, xlsx_bytes
from center.sampling import WindowAgreement
from center.stats import Row


def report():
    rows = [Row(("a",), "县医疗保障局", total=12, rated=10, good=9, bad=1, cases=1, closed=1, on_time=1,
                standing=1, rectified=1),
            Row(("b",), "=HYPERLINK(\"http://x\",\"点我\")", total=3, rated=0)]
    counts = {("a",): {"hall_tablet": 8, "pc": 2}}
    agree = {("a",): WindowAgreement("a", visits=4, reached=4, rated=4, agree=3, disagree=1)}
    return assessment.build(date(2026, 11, 1), date(2026, 11, 30), "department", rows, counts, agree)


def sheet():
    data = xlsx_bytes(report(), datetime(2026, 12, 1, 9, 30))
    return load_workbook(io.BytesIO(data)).active


def test_the_sheet_has_a_chinese_name_a_title_the_period_and_a_frozen_header():
    ws = sheet()
    assert ws.title == "绩效考核"
    assert ws["A1"].value == "政务服务好差评绩效考核报表（按部门）" and ws["A1"].font.b
    assert ws["A2"].value == "统计时段：2026年11月1日 至 2026年11月30日 · 生成时间：2026-12-01 09:30"
    last = ws.cell(HEADER_ROW, ws.max_column).column_letter
    assert {f"A1:{last}1", f"A2:{last}2"} <= {str(m) for m in ws.merged_cells.ranges}
    assert HEADER_ROW == 4 and ws.freeze_panes == "C5"       # header row, rank and unit columns stay
    head = [c.value for c in ws[HEADER_ROW]]
    assert head[:6] == ["排名", "部门", "记录数", "参评数", "PC端", "政务大厅平板电脑"]
    assert head[-2:] == ["回访核实", "回访一致率"]
    assert ws.page_setup.orientation == "landscape" and int(ws.page_setup.paperSize) == 9   # A4


def test_columns_have_their_widths():
    ws = sheet()
    head = {c.value: c.column_letter for c in ws[HEADER_ROW]}
    assert ws.column_dimensions[head["部门"]].width == 22
    assert ws.column_dimensions[head["排名"]].width == 5
    assert ws.column_dimensions[head["政务大厅平板电脑"]].width == 17
    assert all(ws.column_dimensions[letter].width >= 5 for letter in head.values())


def test_numbers_are_numbers_and_rates_have_a_percent_format():
    ws = sheet()
    head = [c.value for c in ws[HEADER_ROW]]
    a, b, total = (dict(zip(head, r)) for r in ws.iter_rows(min_row=HEADER_ROW + 1, max_row=HEADER_ROW + 3))
    assert (a["排名"].value, a["部门"].value, a["记录数"].value, a["PC端"].value) == (1, "县医疗保障局", 12, 2)
    assert all(isinstance(a[h].value, int) for h in ("排名", "记录数", "参评数", "好评", "差评", "差评工单"))
    assert a["好评率"].value == 0.9 and a["好评率"].number_format == "0.0%"
    assert a["回访一致率"].value == 0.75 and a["回访一致率"].number_format == "0.0%"
    assert a["记录数"].number_format == "0"
    assert b["排名"].value is None and b["好评率"].value is None      # no scored evaluation: empty, not "—"
    assert b["参评率"].value == 0 and b["参评率"].data_type == "n"
    assert total["部门"].value == "合计" and total["记录数"].value == 15 and total["排名"].value is None
    assert total["记录数"].font.b


def test_a_name_that_looks_like_a_formula_is_text():
    ws = sheet()
    cell = ws.cell(HEADER_ROW + 2, 2)
    assert cell.value == "=HYPERLINK(\"http://x\",\"点我\")" and cell.data_type == "s"


def test_the_notes_state_the_ranking_rule():
    ws = sheet()
    texts = [ws.cell(r, 1).value for r in range(HEADER_ROW + 4, HEADER_ROW + 12)]
    assert assessment.RANK_RULE in texts
