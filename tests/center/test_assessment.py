"""The assessment report's pure rules (center/assessment.py): the ranking
rule with its ties, the lines and their columns, the plain-text table and
the CSV rows."""
from datetime import date

import pytest

from center import assessment
from center.sampling import WindowAgreement
from center.stats import Row

START, END = date(2026, 11, 1), date(2026, 11, 30)


def row(label, good, bad, *, excluded=0, unrated=0, **kw):
    return Row((label,), label, total=good + bad + unrated, rated=good + bad, good=good, bad=bad,
               excluded=excluded, **kw)


def test_rank_by_good_rate_then_volume_ties_share_and_the_next_rank_skips():
    rows = [row("甲", 9, 1), row("乙", 18, 2), row("丙", 18, 2), row("丁", 1, 0), row("戊", 0, 0, unrated=3),
            row("己", 8, 2)]
    r = assessment.ranks(rows)
    # 丁 100% over 1; 乙 and 丙 90% over 20 share 2; 甲 90% over 10 is 4th; 己 80%; 戊 has no scored evaluation
    assert r == {("丁",): 1, ("乙",): 2, ("丙",): 2, ("甲",): 4, ("己",): 5, ("戊",): None}
    assert [x.label for _, x in assessment.ranked(rows)] == ["丁", "丙", "乙", "甲", "己", "戊"]


def test_rates_are_compared_exactly_not_as_rounded_floats():
    # 1/3 and 2/6 are the same rate: equal on volume decides; 333/1000 is lower than 1/3
    rows = [row("a", 1, 2), row("b", 2, 4), row("c", 333, 667)]
    assert assessment.ranks(rows) == {("b",): 1, ("a",): 2, ("c",): 3}


def test_an_upheld_appeal_leaves_the_rate_and_the_volume_it_is_ranked_by():
    # 4 good, 2 bad of which 1 upheld: scored 5, 好评率 80%; ties with 4 good 1 bad
    rows = [row("a", 4, 2, excluded=1), row("b", 4, 1)]
    assert assessment.ranks(rows) == {("a",): 1, ("b",): 1}


def test_the_report_lines_carry_channels_agreement_rank_and_the_total():
    rows = [row("窗口A", 8, 2, cases=2, closed=2, on_time=1, standing=2, rectified=1), row("窗口B", 5, 0)]
    counts = {("窗口A",): {"hall_tablet": 7, "pc": 3}, ("窗口B",): {"hall_tablet": 4, "sms": 1}}
    agree = {("窗口A",): WindowAgreement("窗口A", visits=3, reached=3, rated=2, agree=1, disagree=1)}
    rep = assessment.build(START, END, "window", rows, counts, agree)
    assert rep.channels == ("pc", "hall_tablet", "sms")             # GB/T 39046 table 9 order
    b, a = rep.units
    assert (b.label, b.rank, a.label, a.rank) == ("窗口B", 1, "窗口A", 2)
    assert a.on_time_rate == 0.5 and a.row.rectification_rate == 0.5 and a.agreement.rate == 0.5
    assert b.agreement.rated == 0 and b.agreement.rate is None and b.on_time_rate is None
    t = rep.total
    assert (t.label, t.rank, t.row.good, t.row.total) == ("合计", None, 13, 15)
    assert t.channels == {"hall_tablet": 11, "pc": 3, "sms": 1} and t.agreement.agree == 1

    cols, values = assessment.table(rep)
    headers = [c.header for c in cols]
    assert headers[:7] == ["排名", "窗口", "记录数", "参评数", "PC端", "政务大厅平板电脑", "短信"]
    assert {"好评率", "差评率", "参评率", "按时办结", "按时办结率", "整改率", "回访一致率"} <= set(headers)
    line = dict(zip(headers, values[1]))
    assert (line["排名"], line["窗口"], line["PC端"], line["好评率"], line["按时办结率"]) == (2, "窗口A", 3, 0.8, 0.5)
    assert values[-1][0] is None and values[-1][1] == "合计"


def test_an_empty_period_still_has_the_tablet_column_and_a_total():
    rep = assessment.build(START, END, "department", [], {}, {})
    assert rep.units == () and rep.channels == ("hall_tablet",)
    assert [c.header for c in assessment.columns(rep)][:5] == ["排名", "部门", "记录数", "参评数", "政务大厅平板电脑"]
    assert "合计" in assessment.text_table(rep)


def test_only_the_assessed_units_are_accepted():
    with pytest.raises(ValueError, match="matter"):
        assessment.build(START, END, "matter", [], {}, {})


def test_the_text_table_aligns_chinese_text_and_states_the_rule():
    rows = [row("县不动产登记中心", 8, 2), row("未登记（07）", 1, 0)]
    rep = assessment.build(START, END, "department", rows, {("县不动产登记中心",): {"hall_tablet": 10},
                                                          ("未登记（07）",): {"hall_tablet": 1}}, {})
    text = assessment.text_table(rep)
    lines = text.splitlines()
    assert lines[0] == "政务服务好差评绩效考核报表（按部门）"
    assert lines[1] == "统计时段：2026年11月1日 至 2026年11月30日"
    table = lines[3:8]
    widths = {assessment._width(x) for x in table[:2]}              # header and rule line up
    assert len(widths) == 1
    assert table[2].split()[:2] == ["1", "未登记（07）"] and "100.0%" in table[2]
    assert table[3].split()[:2] == ["2", "县不动产登记中心"] and "80.0%" in table[3]
    assert table[4].split()[:2] == ["合计", "11"] and "81.8%" in table[4]
    assert assessment.RANK_RULE in text


def test_csv_rows_keep_counts_as_numbers_and_rates_as_percent_text():
    rep = assessment.build(START, END, "window", [row("A", 2, 1), row("B", 0, 0, unrated=2)],
                           {("A",): {"hall_tablet": 3}}, {})
    header, rows = assessment.csv_rows(rep)
    a = dict(zip(header, rows[0]))
    b = dict(zip(header, rows[1]))
    assert (a["排名"], a["记录数"], a["好评率"], a["回访一致率"]) == (1, 3, "66.7%", "")
    assert (b["排名"], b["好评率"], b["参评率"]) == ("", "", "0.0%")
    assert rows[-1][1] == "合计"
