"""A hall with a month of results to assess, written through the real paths
(ingest from tablets and the integration API, case actions, a 监督查评 draw
and its return visits), for the tests of the assessment report, /report
and the charts:

    fill(center)          # an in-process Center whose clock is at NOW (or later)
    EXPECTED["03"]        # what window 03's line must say

Windows 03 and 04 are 县不动产登记中心's, 05 is 县医疗保障局's; 07 is not in
the directory (未登记（07）). Window 05 also has evaluations from the county
platform (channels pc and mobile).
"""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from center import casework, directory_db, samplework
from center.cases import Actor
from center.db import cases, records, sample_items
from center.directory import Directory, diff, parse_toml
from center.ingest import ingest, ingest_from
from center.integration import IntegrationSender, add_client, device_id_of
from hallcore.hallclock import DEFAULT_TZ

from .center import make_vote

NOW = datetime(2026, 11, 30, 10, 0, tzinfo=DEFAULT_TZ)
START, END = date(2026, 11, 1), date(2026, 11, 30)
CHEN = Actor("chen", "supervisor")

DIRECTORY = """
[[department]]
id = "bdc"
name = "县不动产登记中心"
[[department]]
id = "ybj"
name = "县医疗保障局"
[[window]]
id = "03"
name = "不动产登记窗口"
department = "bdc"
[[window]]
id = "04"
name = "不动产查询窗口"
department = "bdc"
[[window]]
id = "05"
name = "医保窗口"
department = "ybj"
[[staff]]
id = "0301"
name = "李明"
window = "03"
[[staff]]
id = "0302"
name = "周敏"
window = "03"
[[staff]]
id = "0401"
name = "王芳"
window = "04"
[[staff]]
id = "0501"
name = "赵强"
window = "05"
"""

# (window, staff id, staff name, day of November, rating or None for unrated, channel)
PLAN = [
    *[("03", "0301", "李明", 25, "satisfied", "hall_tablet")] * 4,
    ("03", "0301", "李明", 26, "basically_satisfied", "hall_tablet"),
    ("03", "0301", "李明", 26, "dissatisfied", "hall_tablet"),      # case: rectified, closed on time
    ("03", "0302", "周敏", 27, "satisfied", "hall_tablet"),
    ("03", "0302", "周敏", 27, "dissatisfied", "hall_tablet"),      # case: appeal upheld
    ("03", "0302", "周敏", 27, None, "hall_tablet"),
    *[("04", "0401", "王芳", 26, "satisfied", "hall_tablet")] * 4,
    ("04", "0401", "王芳", 27, "dissatisfied", "hall_tablet"),      # case: left open
    *[("05", "0501", "赵强", 25, "satisfied", "hall_tablet")] * 2,
    ("05", "0501", "赵强", 25, "satisfied", "pc"),
    ("05", "0501", "赵强", 26, "satisfied", "pc"),
    ("05", "0501", "赵强", 27, "dissatisfied", "mobile"),          # case: rectified, open
    *[("07", "0701", "孙丽", 27, "satisfied", "hall_tablet")] * 2,
]

# What the report must say per window (good, bad after appeals, scored, rated, total)
EXPECTED = {
    "03": dict(total=9, rated=8, good=6, bad=1, cases=2, closed=2, standing=1, on_time=1, rectified=1),
    "04": dict(total=5, rated=5, good=4, bad=1, cases=1, closed=0, standing=1, on_time=0, rectified=0),
    "05": dict(total=5, rated=5, good=4, bad=1, cases=1, closed=0, standing=1, on_time=0, rectified=1,
               channels={"hall_tablet": 2, "pc": 2, "mobile": 1}),
    "07": dict(total=2, rated=2, good=2, bad=0, cases=0, closed=0, standing=0, on_time=0, rectified=0),
}


def fill(center) -> None:
    """The hall above, in `center` (its clock at or after NOW)."""
    with center.engine.begin() as conn:
        directory_db.write(conn, diff(Directory(), parse_toml(DIRECTORY), replace=True))
    seqs: dict[str, int] = {}
    add_client(center, "county", "taojiang")
    platform = IntegrationSender("county", "taojiang")
    for i, (window, staff_id, name, day, rating, channel) in enumerate(PLAN):
        at = datetime(2026, 11, day, 9, 0, tzinfo=DEFAULT_TZ) + timedelta(minutes=i)
        device = f"kiosk-{window}" if channel == "hall_tablet" else device_id_of("county")
        if channel == "hall_tablet" and device not in seqs:
            center.add_device(device, "taojiang", window)
        seq = seqs[device] = seqs.get(device, 0) + 1
        kw = dict(window_id=window, staff_id=staff_id, staff_name=name, at=at, channel=channel)
        if rating is None:
            vote = make_vote(device, seq, unrated=True, **kw)
        elif rating == "dissatisfied":
            vote = make_vote(device, seq, bad=True, **kw)
        else:
            vote = make_vote(device, seq, rating=rating, **kw)
        answers = (ingest(center, device, [vote]) if channel == "hall_tablet"
                   else ingest_from(center, platform, [vote]))
        assert answers[0]["status"] == "stored", answers
    with center.engine.connect() as conn:
        by_window = {}
        for cid, window, staff in conn.execute(select(cases.c.id, cases.c.window_id, cases.c.staff_id)
                                               .order_by(cases.c.id)):
            by_window.setdefault(window, []).append((cid, staff))
    handler03 = Actor("wang", "handler", "03")
    (li, _), (zhou, _) = by_window["03"]
    casework.act(center, li, "verify", handler03)
    casework.act(center, li, "rectify", handler03, note="调整叫号，高峰期增开窗口")
    casework.act(center, li, "feedback", handler03, feedback="已致电群众说明并致歉")
    casework.act(center, li, "close", handler03)
    casework.act(center, zhou, "appeal", handler03, claim="mistaken", note="群众表示误点")
    casework.act(center, zhou, "uphold", CHEN, note="监控核实属实")
    (zhao, _), = by_window["05"]
    casework.act(center, zhao, "rectify", Actor("zhao", "handler", "05"), note="已补充告知材料清单")
    _visits(center)


def _visits(center) -> None:
    """A 监督查评 draw of every rated record of 03 and 05; the calls: window 03
    agrees on 3 of 4 compared (one good rating the citizen called bad), 05
    agrees on 2 of 2, one more call of 05 not reached."""
    sid = samplework.make_draw(center, start=START, end=END, drawn_by="chen", share="1", seed=7)
    with center.engine.connect() as conn:
        items = conn.execute(select(sample_items.c.id, sample_items.c.window_id, records.c.bad,
                                    records.c.staff_id)
                             .join(records, records.c.id == sample_items.c.record_id)
                             .where(sample_items.c.sample_id == sid)
                             .order_by(sample_items.c.window_id, records.c.at)).all()
    good03 = [i for i in items if i.window_id == "03" and not i.bad]
    good05 = [i for i in items if i.window_id == "05" and not i.bad]
    calls = [(good03[0], True, "satisfied"), (good03[1], True, "basically_satisfied"),
             (good03[2], True, "satisfied"), (good03[3], True, "dissatisfied"),
             (good05[0], True, "satisfied"), (good05[1], True, "satisfied"), (good05[2], False, None)]
    for item, reached, rating in calls:
        samplework.record_visit(center, item.id, CHEN, reached=reached, phone_rating=rating)


__all__ = ["CHEN", "DIRECTORY", "END", "EXPECTED", "NOW", "PLAN", "START", "fill"]
