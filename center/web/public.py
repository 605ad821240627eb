"""面向社会公开: the public page /public (no login, GET and HEAD only).

Per month, per department and per window: 好评率, the 差评 that stand and
the 整改率 (center/stats.py over the rollup, the same figures as the
statistics page), with the staff members' names only if the config says
so, and the typical cases (典型案例) with nothing personal. The rules are
center/disclosure.py; DESIGN §13.9.

Caching: the answer carries Cache-Control: public, max-age=[public]
max_age_s and a strong ETag of its bytes (a matching If-None-Match gets
304). The rendered page of each month and the month list are kept in
process for max_age_s (center/pagecache.py, one computation at a time),
so a burst of visitors costs one query set. No cookie is read or set.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from hallcore.hallclock import hall_day

from .. import directory_db, disclosure, queries, stats
from ..directory import department_label
from ..httpcache import etag_matches
from ..pagecache import PageCache
from ..service import Center
from .deps import TEMPLATES, CenterDep

router = APIRouter(include_in_schema=False)
MONTHS = "months"                  # the cache key of the month list


@dataclass(frozen=True)
class Rendered:
    body: bytes
    etag: str


def _figures(r: stats.Row, label: str, **extra) -> dict:
    return dict(label=label, scored=r.scored, good_rate=stats.pct(r.good_rate), bad=r.standing_bad,
                standing=r.standing, rectification_rate=stats.pct(r.rectification_rate), **extra)


def _load(center: Center, month: date, months: list[date]) -> dict:
    """Everything the page shows for `month`, from the rollup and the cases."""
    start, end = month, disclosure.month_last(month)
    staff_names = center.cfg.public.staff_names
    with center.engine.connect() as conn:
        d = directory_db.load(conn)
        deps = stats.summary(conn, start, end, "department", directory=d)
        wins = stats.summary(conn, start, end, "window", directory=d)
        people = {w.key[0]: stats.summary(conn, start, end, "staff", w.key[0], directory=d)
                  for w in wins} if staff_names else {}
        marked = queries.public_typical_cases(conn, stats.day_start_utc(start),
                                              stats.day_start_utc(end + timedelta(days=1)))
    windows = [_figures(w, w.label, window_id=w.key[0],
                        department=department_label(d, w.key[0], center.cfg.department(w.key[0])))
               for w in wins]               # in the window numbers' order, as the hall shows them
    staff = [_figures(p, disclosure.staff_name(d, p.key), window=w["label"])
             for w in windows for p in people.get(w["window_id"], ()) if p.key[0]]
    typical = [v for v in (disclosure.typical_view(r, d, staff_names=staff_names) for r in marked) if v]
    return dict(departments=[_figures(r, r.label) for r in deps],
                total=_figures(stats.totals(deps), "全中心"), windows=windows, staff=staff,
                typical=typical, staff_names=staff_names)


def _render(center: Center, month: date, months: list[date]) -> Rendered:
    ctx = _load(center, month, months)
    html = TEMPLATES.get_template("public.html").render(
        month=month, month_label=disclosure.month_label(month),
        months=[(disclosure.month_param(m), disclosure.month_label(m)) for m in months],
        selected=disclosure.month_param(month), max_age_min=max(1, center.cfg.public.max_age_s // 60),
        **ctx)
    body = html.encode("utf-8")
    return Rendered(body, disclosure.etag_of(body))


def _refusal(message: str, status: int) -> HTMLResponse:
    return HTMLResponse(TEMPLATES.get_template("public_message.html").render(message=message),
                        status_code=status)


@router.api_route("/public", methods=["GET", "HEAD"])
def public_page(request: Request, center: CenterDep):
    values = request.query_params.getlist("month")
    if len(values) > 1:
        return _refusal("请只选择一个月份", 400)
    try:
        month = disclosure.parse_month(values[0] if values else None)
    except disclosure.MonthError as e:
        return _refusal(str(e), 400)
    cache: PageCache = request.app.state.public_cache

    def months_now() -> list[date]:
        with center.engine.connect() as conn:
            return queries.months_with_data(conn, disclosure.MONTHS_SHOWN)

    months = cache.get(MONTHS, months_now)
    if month is None:
        month = months[0] if months else disclosure.month_first(hall_day(center.clock()))
    elif month not in months:
        return _refusal(f"{disclosure.month_label(month)}没有可公开的评价数据，请从列表中选择月份", 404)
    page = cache.get(month, lambda: _render(center, month, months))
    headers = {"Cache-Control": f"public, max-age={center.cfg.public.max_age_s}", "ETag": page.etag}
    if etag_matches(request.headers.get("if-none-match"), page.etag):
        return Response(status_code=304, headers=headers)
    return Response(page.body, media_type="text/html; charset=utf-8", headers=headers)


def install(app) -> None:
    """The router and its page cache (app.state.public_cache; a change the
    page shows, made in this process, clears it)."""
    app.state.public_cache = PageCache(app.state.center.cfg.public.max_age_s)
    app.include_router(router)


__all__ = ["install", "router"]
