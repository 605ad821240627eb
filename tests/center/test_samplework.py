"""监督查评 in the database and on the dashboard (center/samplework.py,
center/web/supervision.py), on SQLite and PostgreSQL: the seeded draw is
stored, logged and repeatable, return visits are recorded and compared,
and the agreement per window agrees with the raw rows."""
import logging
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from hallcore.hallclock import DEFAULT_TZ
from hallcore.record import SCALES
from center import samplework
from center.api import create_app
from center.cases import Actor
from center.config import SupervisionConfig
from center.db import daily_stats, records, return_visits, sample_items, samples
from center.ingest import ingest
from center.sampling import SamplingError, draw, Evaluated
from tests.support.center import Clock, make_center, make_vote
from tests.support.web import csrf_of, login

NOW = datetime(2026, 12, 2, 10, 0, tzinfo=DEFAULT_TZ)
DAY = datetime(2026, 11, 27, 10, 0, tzinfo=DEFAULT_TZ)
CHEN = Actor("chen", "supervisor")
NOV = dict(start=date(2026, 11, 1), end=date(2026, 11, 30))


def votes(device, window, n, *, bad_every=5, start_seq=1, day=DAY):
    """n records of one window, every bad_every-th a bad review, one unrated at the end."""
    out = [make_vote(device, start_seq + i, bad=(i % bad_every == 0), window_id=window,
                     at=day + timedelta(minutes=i), staff_id=f"{window}01", staff_name=f"员工{window}")
           for i in range(n)]
    out.append(make_vote(device, start_seq + n, unrated=True, window_id=window, at=day))
    return out


@pytest.fixture
def center(db_url, tmp_path):
    c = make_center(db_url, tmp_path, clock=Clock(NOW),
                    supervision=SupervisionConfig(share="0.1", min_checked=2, min_confirmed=0.8))
    c.add_device("tab-03", "taojiang", "03")
    c.add_device("tab-05", "taojiang", "05")
    c.add_user("chen", "supervisor", "chen-pass-1")
    c.add_user("wang", "handler", "wang-pass-1", "03")
    ingest(c, "tab-03", votes("tab-03", "03", 40))
    ingest(c, "tab-05", votes("tab-05", "05", 20))
    yield c
    c.engine.dispose()


def items_of(center, sample_id):
    with center.engine.connect() as conn:
        return conn.execute(select(sample_items.c.record_id, sample_items.c.window_id)
                            .where(sample_items.c.sample_id == sample_id)
                            .order_by(sample_items.c.record_id)).all()


# ------------------------------------------------------------------ the draw

def test_a_draw_is_stored_with_its_seed_and_logged(center, caplog):
    caplog.set_level(logging.INFO, logger="center.sampling")
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=20261202)
    with center.engine.connect() as conn:
        s = samplework.sample(conn, sid)
    assert (s.seed, s.share, s.min_per_window, s.population) == (20261202, "0.1", 1, 60)
    assert s.population_by_window == {"03": 40, "05": 20} and s.drawn_by == "chen"
    got = items_of(center, sid)
    assert [w for _, w in got].count("03") == 4 and [w for _, w in got].count("05") == 2
    assert "seed 20261202" in caplog.text and f"sample {sid} drawn by chen" in caplog.text
    assert "6 of 60 evaluated records" in caplog.text


def test_the_stored_items_are_the_pure_draw_over_the_rated_records_good_ones_included(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=99)
    with center.engine.connect() as conn:
        rated = [Evaluated(r.window_id, r.id, r.body["scale"], r.body["rating"])
                 for r in conn.execute(select(records).where(records.c.result == "rated"))]
        ratings = dict(conn.execute(select(records.c.id, records.c.bad)).all())
    expected = draw(rated, seed=99, share="0.1")
    assert [(e.record_id, e.window_id) for e in expected.call_list()] == \
        sorted(items_of(center, sid), key=lambda x: (x[1], x[0]))
    drawn = [rid for rid, _ in items_of(center, sid)]
    assert any(not ratings[rid] for rid in drawn)                    # good ratings are drawn too


def test_the_same_seed_and_period_give_the_same_items_and_another_seed_others(center):
    a = samplework.make_draw(center, **NOV, drawn_by="chen", seed=7)
    b = samplework.make_draw(center, **NOV, drawn_by="chen", seed=7)
    c = samplework.make_draw(center, **NOV, drawn_by="chen", seed=8)
    assert items_of(center, a) == items_of(center, b) != items_of(center, c)


def test_a_new_seed_is_made_when_none_is_given_and_the_share_defaults_to_the_config(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen")
    with center.engine.connect() as conn:
        s = samplework.sample(conn, sid)
    assert s.seed > 0 and s.share == "0.1"
    assert samplework.repeat(center, sid).same


def test_one_window_only(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", window_id="05", share="0.5", seed=1)
    assert {w for _, w in items_of(center, sid)} == {"05"} and len(items_of(center, sid)) == 10


def test_repeating_a_draw_finds_the_same_items_until_the_period_changes(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=4242)
    audit = samplework.repeat(center, sid)
    assert audit.same and audit.stored == 6 and audit.changed_windows == {}
    # ten late records of window 03 arrive (nine rated): the redraw takes 5 of its 49
    ingest(center, "tab-03", votes("tab-03", "03", 9, start_seq=100))
    audit = samplework.repeat(center, sid)
    assert audit.changed_windows == {"03": (40, 49)}
    assert len(items_of(center, sid)) - len(audit.missing) + len(audit.added) == 7   # 03: 5, 05: 2
    assert not audit.same


@pytest.mark.parametrize("kw,message", [
    (dict(share="0"), "抽样比例 '0' 无效"),
    (dict(share="一成"), "抽样比例 '一成' 无效"),
    (dict(seed=-1), "随机种子 -1 无效"),
    (dict(start=date(2026, 12, 1), end=date(2026, 11, 1)), "晚于结束日期"),
    (dict(start=date(2026, 10, 1), end=date(2026, 10, 31)), "没有已评价的办件"),
    (dict(window_id="99"), "窗口 99 没有已评价的办件"),
])
def test_a_bad_draw_is_refused_and_nothing_is_stored(center, kw, message):
    args = {**NOV, "drawn_by": "chen", **kw}
    with pytest.raises(SamplingError, match=message):
        samplework.make_draw(center, **args)
    with center.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(samples)).scalar_one() == 0


# ------------------------------------------------------------------ visits

def good_and_bad_items(center, sid):
    with center.engine.connect() as conn:
        rows = conn.execute(select(sample_items.c.id, sample_items.c.window_id, records.c.bad)
                            .join(records, records.c.id == sample_items.c.record_id)
                            .where(sample_items.c.sample_id == sid).order_by(sample_items.c.id)).all()
    return [r for r in rows if not r.bad], [r for r in rows if r.bad]


def test_a_visit_is_compared_with_the_tablet_and_written_on_the_phone_channel(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=5, share="0.5")
    good, bad = good_and_bad_items(center, sid)
    a = samplework.record_visit(center, good[0].id, CHEN, reached=True, phone_rating="dissatisfied",
                                remarks="群众说是工作人员让他点的满意")
    assert (a.exact, a.same_class, a.induced) == (False, False, True)
    b = samplework.record_visit(center, bad[0].id, CHEN, reached=True, phone_rating="dissatisfied")
    assert (b.exact, b.same_class) == (True, True)
    with center.engine.connect() as conn:
        rows = conn.execute(select(return_visits).order_by(return_visits.c.id)).all()
    assert [(r.channel, r.reached, r.phone_rating, r.exact, r.same_class, r.visited_by) for r in rows] == [
        ("phone", True, "dissatisfied", False, False, "chen"),
        ("phone", True, "dissatisfied", True, True, "chen")]


def test_a_visit_does_not_change_the_tablets_statistics(center):
    with center.engine.connect() as conn:
        before = conn.execute(select(daily_stats).order_by(daily_stats.c.id)).all()
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=5, share="0.5")
    good, _ = good_and_bad_items(center, sid)
    samplework.record_visit(center, good[0].id, CHEN, reached=True, phone_rating="dissatisfied")
    with center.engine.connect() as conn:
        assert conn.execute(select(daily_stats).order_by(daily_stats.c.id)).all() == before
        assert conn.execute(select(func.count()).select_from(records)).scalar_one() == 62


def test_a_record_is_called_again_until_reached_and_never_after(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=5)
    item = good_and_bad_items(center, sid)[0][0].id
    assert samplework.record_visit(center, item, CHEN, reached=False, phone_rating=None,
                                   remarks="无人接听") is None
    samplework.record_visit(center, item, CHEN, reached=True, phone_rating="satisfied")
    with pytest.raises(SamplingError, match="已回访并联系上群众"):
        samplework.record_visit(center, item, CHEN, reached=True, phone_rating="dissatisfied")
    # the same record drawn again by another draw is not called again either
    again = samplework.make_draw(center, **NOV, drawn_by="chen", seed=5)
    other = next(i for i, in _ids(center, again) if _record(center, i) == _record(center, item))
    with pytest.raises(SamplingError, match="已回访并联系上群众"):
        samplework.record_visit(center, other, CHEN, reached=True, phone_rating="dissatisfied")


def _ids(center, sid):
    with center.engine.connect() as conn:
        return conn.execute(select(sample_items.c.id).where(sample_items.c.sample_id == sid)).all()


def _record(center, item_id):
    with center.engine.connect() as conn:
        return conn.execute(select(sample_items.c.record_id).where(sample_items.c.id == item_id)).scalar()


@pytest.mark.parametrize("kw,message", [
    (dict(reached=False, phone_rating="satisfied"), "未联系上群众，不能记录电话评价"),
    (dict(reached=True, phone_rating="satisfied", remarks="长" * 501), "备注过长"),
    (dict(reached=True, phone_rating="very_happy"), "very_happy"),
])
def test_a_bad_visit_is_refused_and_nothing_is_stored(center, kw, message):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=5)
    item = _ids(center, sid)[0][0]
    with pytest.raises(SamplingError, match=message):
        samplework.record_visit(center, item, CHEN, **kw)
    with center.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(return_visits)).scalar_one() == 0


# ------------------------------------------------------------------ agreement

def test_the_agreement_statistics_agree_with_the_raw_rows(center):
    """Visits of every kind over two draws; the per-window numbers recomputed
    here from the return_visits, sample_items and records rows directly."""
    s1 = samplework.make_draw(center, **NOV, drawn_by="chen", seed=11, share="0.5")
    s2 = samplework.make_draw(center, **NOV, drawn_by="chen", seed=12, share="0.5")
    answers = ["satisfied", "dissatisfied", None, "basically_satisfied", "dissatisfied"]
    n = 0
    for sid in (s1, s2):
        for (item,) in _ids(center, sid):
            n += 1
            reached = n % 4 != 0
            try:
                samplework.record_visit(center, item, CHEN, reached=reached,
                                        phone_rating=answers[n % 5] if reached else None)
            except SamplingError:
                pass                     # a record already reached in the other draw
    with center.engine.connect() as conn:
        got = samplework.period_agreement(conn, NOV["start"], NOV["end"])
        raw = conn.execute(select(return_visits.c.id, return_visits.c.reached,
                                  return_visits.c.phone_rating, sample_items.c.record_id,
                                  records.c.window_id, records.c.body)
                           .join(sample_items, sample_items.c.id == return_visits.c.item_id)
                           .join(records, records.c.id == sample_items.c.record_id)).all()
    latest = {}
    for r in sorted(raw, key=lambda r: r.id):
        latest[r.record_id] = r
    expected = {}
    for r in latest.values():
        e = expected.setdefault(r.window_id, dict.fromkeys(
            ("visits", "reached", "rated", "agree", "disagree", "exact", "good_checked",
             "good_confirmed", "induced"), 0))
        e["visits"] += 1
        if not r.reached:
            continue
        e["reached"] += 1
        if r.phone_rating is None:
            continue
        e["rated"] += 1
        levels = SCALES[r.body["scale"]]
        tablet, phone = levels.level(r.body["rating"]), levels.level(r.phone_rating)
        e["agree" if tablet.bad == phone.bad else "disagree"] += 1
        e["exact"] += tablet.satisfaction_code == phone.satisfaction_code
        if not tablet.bad:
            e["good_checked"] += 1
            e["good_confirmed"] += not phone.bad
            e["induced"] += phone.bad
    assert set(got) == set(expected) == {"03", "05"}
    for w, e in expected.items():
        assert {k: getattr(got[w], k) for k in e} == e, w
        assert got[w].rate == (e["agree"] / e["rated"] if e["rated"] else None)
    assert sum(e["disagree"] for e in expected.values()) > 0          # the data exercised both


def test_a_window_whose_good_ratings_are_not_confirmed_is_flagged(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=3, share="1", window_id="05")
    good, _ = good_and_bad_items(center, sid)
    for g in good[:3]:
        samplework.record_visit(center, g.id, CHEN, reached=True, phone_rating="dissatisfied")
    with center.engine.connect() as conn:
        rows = samplework.agreement_rows(samplework.sample_agreement(conn, sid), center.cfg.supervision)
    (row,) = rows
    assert row["a"].window_id == "05" and row["a"].good_confirmed_rate == 0 and row["flag"] is True


# ------------------------------------------------------------------ pages

def test_only_supervisors_reach_the_supervision_pages(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=1)
    app = create_app(center)
    handler = login(app, "wang", "wang-pass-1")
    for path in ("/supervision", f"/supervision/samples/{sid}", f"/supervision/samples/{sid}/audit"):
        r = handler.get(path)
        assert r.status_code == 403 and "监督查评仅限中心督办人员使用" in r.text
    token = csrf_of(handler.get("/cases").text)
    item = _ids(center, sid)[0][0]
    r = handler.post(f"/supervision/items/{item}/visit", data={"csrf": token, "reached": "yes",
                                                                "rating": "satisfied"})
    assert r.status_code == 403
    r = handler.post("/supervision/draw", data={"csrf": token, "start": "2026-11-01", "end": "2026-11-30"})
    assert r.status_code == 403
    assert "监督查评" not in handler.get("/cases").text.split("<main>")[0]     # no menu entry
    with center.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(return_visits)).scalar_one() == 0
        assert conn.execute(select(func.count()).select_from(samples)).scalar_one() == 1


def test_drawing_and_visiting_through_the_pages(center):
    cl = login(create_app(center), "chen", "chen-pass-1")
    home = cl.get("/supervision")
    assert 'name="share" value="0.1"' in home.text
    token = csrf_of(home.text)
    r = cl.post("/supervision/draw", data={"csrf": token, "start": "2026-11-01", "end": "2026-11-30",
                                           "share": "0.5", "seed": "31337", "window_id": ""},
                follow_redirects=False)
    assert r.status_code == 303
    page = cl.get(r.headers["location"]).text
    assert 'id="seed">31337' in page and page.count('data-item="') == 30
    assert "13812345678" in page                         # a bad review's call-back number, in full
    assert "凭办件编号查询" in page                        # the others: through the 办件 system
    assert "平板：" not in page                           # the tablet's rating only after the visit
    sid = int(r.headers["location"].rsplit("/", 1)[1])
    good, _ = good_and_bad_items(center, sid)
    r = cl.post(f"/supervision/items/{good[0].id}/visit",
                data={"csrf": token, "reached": "yes", "rating": "dissatisfied", "remarks": "被要求点满意"},
                follow_redirects=False)
    assert r.status_code == 303
    page = cl.get(f"/supervision/samples/{sid}").text
    assert "平板：满意 · 电话：不满意" in page and "不一致" in page and "被要求点满意" in page
    r = cl.post(f"/supervision/items/{good[1].id}/visit", data={"csrf": token, "rating": "satisfied"})
    assert r.status_code == 422 and "请选择是否联系上群众" in r.text
    audit = cl.get(f"/supervision/samples/{sid}/audit").text
    assert 'id="audit-result">一致' in audit


def test_a_bad_draw_form_is_shown_again_with_the_reason(center):
    cl = login(create_app(center), "chen", "chen-pass-1")
    token = csrf_of(cl.get("/supervision").text)
    r = cl.post("/supervision/draw", data={"csrf": token, "start": "2026-11-01", "end": "2026-11-30",
                                           "share": "2", "seed": ""})
    assert r.status_code == 422 and "抽样比例 &#39;2&#39; 无效" in r.text
    r = cl.post("/supervision/draw", data={"csrf": token, "start": "11/01", "end": "2026-11-30"})
    assert r.status_code == 422 and "开始日期应为日期，如 2026年12月2日 或 2026-12-02" in r.text
    r = cl.post("/supervision/draw", data={"csrf": token, "start": "2026-11-01", "end": "2026-11-30",
                                           "seed": "abc"})
    assert r.status_code == 422 and "随机种子应为" in r.text


def test_the_statistics_page_shows_the_agreement_per_window_and_the_flag(center):
    sid = samplework.make_draw(center, **NOV, drawn_by="chen", seed=3, share="1", window_id="05")
    good, _ = good_and_bad_items(center, sid)
    for g in good[:2]:
        samplework.record_visit(center, g.id, CHEN, reached=True, phone_rating="dissatisfied")
    samplework.record_visit(center, good[2].id, CHEN, reached=False, phone_rating=None)
    app = create_app(center)
    page = login(app, "chen", "chen-pass-1").get("/stats?start=2026-11-01&end=2026-11-30").text
    row = page.split('data-window="05"')[1].split("</tr>")[0]
    assert row.startswith(' class="flagged"')
    assert '<td class="disagree warn">2</td>' in row and '<td class="rate">0.0%</td>' in row
    assert "疑有诱导或强迫评价" in row
    sup = login(app, "chen", "chen-pass-1").get("/supervision?start=2026-11-01&end=2026-11-30").text
    assert 'data-window="05"' in sup and "疑有诱导或强迫评价" in sup
    # a handler of window 03 sees the agreement of its own window only (none here)
    mine = login(app, "wang", "wang-pass-1").get("/stats?start=2026-11-01&end=2026-11-30").text
    assert 'data-window="05"' not in mine and "该时段没有回访记录" in mine
