"""The report for the performance assessment (绩效考核), as pure rules: from
the statistics' rows (center/stats.py), the evaluations per channel and the
监督查评 agreement (center/sampling.py) it builds one line per unit
(department, window or staff member), ranks them and lays out the columns
that the page, the print view, the CSV, the XLSX and the plain-text table
share (the I/O is center/assessment_db.py and center/assessment_xlsx.py).

The numbers are the statistics' own (DESIGN §2.5): 好评率, 差评率, 参评率
and 整改率 are stats.Row's; 按时办结率 = cases closed on time / the cases
that stand (the same denominator as 整改率: an upheld appeal is out of
both, a case still open counts as not yet on time).

Ranking: the units with at least one scored evaluation, by 好评率 (higher
first, compared exactly as fractions), then by the number of scored
evaluations (more first: the same rate over more evaluations ranks
higher). Units equal in both share a rank and the next rank skips
(1, 2, 2, 4). A unit without scored evaluations has no rank ("—") and is
listed after the ranked ones.
"""
from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from fractions import Fraction
from typing import Any, Callable, Iterable, Mapping, Sequence

from hallcore.record import CHANNEL_HALL_TABLET

from . import channels
from .sampling import WindowAgreement, agreement_total
from .stats import GROUPS, Row, pct, totals

BY = ("department", "window", "staff")        # the units an assessment is made of
TITLE = "政务服务好差评绩效考核报表"
RANK_RULE = ("排名规则：按好评率从高到低；好评率相同时，计分评价多者在前；两者都相同的并列同一名次"
             "（其后名次顺延）；没有计分评价的不参与排名。")
NOTES = (
    "好评率 = 好评 / 计分评价；差评率 = 差评 / 计分评价；参评率 = 参评数 / 记录数；申诉成立的差评不计分。",
    "按时办结率 = 按时办结 / 有效工单；整改率 = 已整改 / 有效工单；有效工单 = 差评工单中申诉未成立的。",
    "渠道列为各评价渠道（GB/T 39046-2020 表 9）的参评数；回访一致率 = 监督查评回访与平板评价同为好评或同为差评的比例。",
    RANK_RULE,
)


@dataclass(frozen=True)
class Unit:
    """One line of the report."""
    row: Row                              # stats.summary's (or stats.totals')
    channels: Mapping[str, int]           # channel value -> rated records
    agreement: WindowAgreement            # the 监督查评 return visits of its records
    rank: int | None = None

    @property
    def label(self) -> str:
        return self.row.label

    @property
    def on_time_rate(self) -> float | None:
        r = self.row
        return r.on_time / r.standing if r.standing else None


@dataclass(frozen=True)
class Report:
    start: date
    end: date
    by: str
    channels: tuple[str, ...]             # the channel columns, in GB/T 39046 table 9 order
    units: tuple[Unit, ...]               # ranked first (by rank), then the others by label
    total: Unit

    @property
    def unit_name(self) -> str:
        return GROUPS[self.by][0]


def _standing(r: Row) -> tuple[Fraction, int] | None:
    return (Fraction(r.good, r.scored), r.scored) if r.scored > 0 else None


def ranks(rows: Iterable[Row]) -> dict[tuple, int | None]:
    """Each row's rank by the rule above (None: no scored evaluation)."""
    rows = list(rows)
    keys = {r.key: _standing(r) for r in rows}
    ranked = sorted((k for k in keys.values() if k is not None), reverse=True)
    first: dict[tuple[Fraction, int], int] = {}
    for i, k in enumerate(ranked, 1):
        first.setdefault(k, i)
    return {key: (None if k is None else first[k]) for key, k in keys.items()}


def ranked(rows: Iterable[Row]) -> list[tuple[int | None, Row]]:
    """The rows with their ranks, in report order."""
    rows = list(rows)
    r = ranks(rows)
    return sorted(((r[x.key], x) for x in rows),
                  key=lambda p: (p[0] is None, p[0] or 0, p[1].label))


def channel_order(values: Iterable[str]) -> tuple[str, ...]:
    """Channel values in table 9's order; an unknown one (kept, never dropped) last."""
    vs = set(values)
    return tuple(v for v in channels.VALUES if v in vs) + tuple(sorted(vs - set(channels.VALUES)))


def build(start: date, end: date, by: str, rows: Sequence[Row],
          channel_counts: Mapping[tuple, Mapping[str, int]],
          agreements: Mapping[tuple, WindowAgreement]) -> Report:
    """The report from stats.summary's rows, stats.channel_counts and
    samplework.unit_agreement (all three keyed by the same row keys)."""
    if by not in BY:
        raise ValueError(f"by={by!r}: expected one of {', '.join(BY)}")
    shown = channel_order(v for per in channel_counts.values() for v, n in per.items() if n)
    if not shown:
        shown = (CHANNEL_HALL_TABLET,)               # 政务大厅平板电脑: the hall's own channel
    units = tuple(Unit(row, dict(channel_counts.get(row.key, {})),
                       agreements.get(row.key) or WindowAgreement(row.label), rank)
                  for rank, row in ranked(rows))
    all_channels: dict[str, int] = {}
    for per in channel_counts.values():
        for v, n in per.items():
            all_channels[v] = all_channels.get(v, 0) + n
    total = Unit(totals(rows), all_channels, agreement_total(agreements.values()))
    return Report(start, end, by, shown, units, total)


# ------------------------------------------------------------------ columns

@dataclass(frozen=True)
class Column:
    header: str
    kind: str                               # rank | text | count | rate
    value: Callable[[Unit], Any]
    width: int = 8                          # in characters, for the XLSX and the text table
    key: str = ""                           # a stable name for pages and tests


def _c(header: str, kind: str, value: Callable[[Unit], Any], width: int = 8, key: str = "") -> Column:
    return Column(header, kind, value, width, key)


def columns(report: Report) -> list[Column]:
    """The report's columns, in order (the channel columns are those with evaluations)."""
    def channel_col(v: str) -> Column:
        return _c(channels.label(v), "count", lambda u: u.channels.get(v, 0),
                  max(6, len(channels.label(v)) * 2 + 1), f"channel-{v}")
    return [
        _c("排名", "rank", lambda u: u.rank, 5, "rank"),
        _c(report.unit_name, "text", lambda u: u.label, 22, "unit"),
        _c("记录数", "count", lambda u: u.row.total, 7, "total"),
        _c("参评数", "count", lambda u: u.row.rated, 7, "rated"),
        *(channel_col(v) for v in report.channels),
        _c("好评", "count", lambda u: u.row.good, 6, "good"),
        _c("差评", "count", lambda u: u.row.bad - u.row.excluded, 6, "bad"),
        _c("好评率", "rate", lambda u: u.row.good_rate, 8, "good-rate"),
        _c("差评率", "rate", lambda u: u.row.bad_rate, 8, "bad-rate"),
        _c("参评率", "rate", lambda u: u.row.participation, 8, "participation"),
        _c("差评工单", "count", lambda u: u.row.cases, 9, "cases"),
        _c("已办结", "count", lambda u: u.row.closed, 7, "closed"),
        _c("有效工单", "count", lambda u: u.row.standing, 9, "standing"),
        _c("按时办结", "count", lambda u: u.row.on_time, 9, "on-time"),
        _c("按时办结率", "rate", lambda u: u.on_time_rate, 11, "on-time-rate"),
        _c("已整改", "count", lambda u: u.row.rectified, 7, "rectified"),
        _c("整改率", "rate", lambda u: u.row.rectification_rate, 8, "rectification-rate"),
        _c("回访核实", "count", lambda u: u.agreement.rated, 9, "visits-compared"),
        _c("回访一致率", "rate", lambda u: u.agreement.rate, 11, "agreement-rate"),
    ]


def cell_text(col: Column, value: Any) -> str:
    """How a cell reads on a page or in the text table."""
    if col.kind == "rate":
        return pct(value)
    if col.kind == "rank":
        return "—" if value is None else str(value)
    return str(value)


def title(report: Report) -> str:
    return f"{TITLE}（按{report.unit_name}）"


def period_text(report: Report) -> str:
    def day(d: date) -> str:
        return f"{d.year}年{d.month}月{d.day}日"
    return f"统计时段：{day(report.start)} 至 {day(report.end)}"


def table(report: Report) -> tuple[list[Column], list[list[Any]]]:
    """The columns and the raw values, one list per unit, the total last."""
    cols = columns(report)
    lines = [*report.units, report.total]
    return cols, [[c.value(u) if not (u is report.total and c.kind == "rank") else None for c in cols]
                  for u in lines]


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * max(0, width - _width(text))
    return gap + text if right else text + gap


def text_table(report: Report) -> str:
    """The report as a plain-text table for a terminal (CJK characters count two columns)."""
    cols, values = table(report)
    cells = [[c.header for c in cols]] + [[cell_text(c, v) for c, v in zip(cols, line)] for line in values]
    cells[-1][0] = ""                                   # the total has no rank
    widths = [max(_width(line[i]) for line in cells) for i in range(len(cols))]
    out = [title(report), period_text(report), ""]
    for n, line in enumerate(cells):
        out.append("  ".join(_pad(t, w, right=c.kind != "text" and n > 0)
                             for t, w, c in zip(line, widths, cols)).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    out += ["", *NOTES]
    return "\n".join(out) + "\n"


def csv_rows(report: Report) -> tuple[list[str], list[list[Any]]]:
    """Header and rows for a CSV: counts as numbers, rates as 33.3% (a
    spreadsheet reads that as a number), nothing for a rate of nothing."""
    cols, values = table(report)
    rows = []
    for line in values:
        rows.append([("" if v is None else pct(v)) if c.kind == "rate" else ("" if v is None else v)
                     for c, v in zip(cols, line)])
    return [c.header for c in cols], rows


__all__ = ["BY", "Column", "NOTES", "RANK_RULE", "Report", "TITLE", "Unit", "build", "cell_text",
           "channel_order", "columns", "csv_rows", "period_text", "ranked", "ranks", "table",
           "text_table", "title"]
