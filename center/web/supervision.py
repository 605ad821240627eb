"""政府部门"监督查评" (supervisors only): draw a seeded sample of evaluated
records per window, the call list, each return visit, the agreement between
the tablets and the visits, and a draw repeated for audit
(center/samplework.py).

The call list names the citizen's number only where the center has one (a
bad review's call-back number, shown to supervisors alone); otherwise the
supervisor looks the citizen up by the 办件编号 in the queue or 办件 system.
The tablet's rating is shown only once the visit is recorded, so the caller
asks without knowing the answer to expect.
"""
from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse

from hallcore.hallclock import from_db, show

from .. import samplework
from ..sampling import MAX_SEED, SamplingError
from .deps import CenterDep, Forbidden, Period, page, supervisors_only
from .forms import DAY_EXAMPLE, parse_day

router = APIRouter(include_in_schema=False)


SupervisorActor, SupervisorForm = supervisors_only("监督查评仅限中心督办人员使用")


def _day(value: str, what: str) -> date:
    try:
        return parse_day(value)
    except ValueError:
        raise SamplingError(f"{what}应为日期，如 {DAY_EXAMPLE}") from None


def _seed(value: str) -> int | None:
    v = value.strip()
    if not v:
        return None
    if not v.isdigit() or int(v) > MAX_SEED:
        raise SamplingError(f"随机种子应为 0 至 {MAX_SEED} 的整数，或留空由系统生成")
    return int(v)


def _rows(center, agreements):
    return samplework.agreement_rows(agreements, center.cfg.supervision)


def _home(request, actor, center, period, *, error=None, form=None, status=200):
    s, e = period
    with center.engine.connect() as conn:
        draws = samplework.sample_list(conn)
        agreements = samplework.period_agreement(conn, s, e)
    form = form or {"start": s, "end": e, "share": center.cfg.supervision.share,
                    "seed": "", "window_id": ""}
    return page(request, "supervision.html", actor, error=error, form=form, start=s, end=e,
                draws=[dict(id=d.id, start=d.period_start, end=d.period_end, window=d.window_id,
                            share=d.share, seed=d.seed, population=d.population, items=d.items,
                            visited=d.visited, by=d.drawn_by, at=show(from_db(d.drawn_at)))
                       for d in draws],
                agreement=_rows(center, agreements),
                total=samplework.agreement_total(agreements.values()),
                thresholds=center.cfg.supervision, status=status)


@router.get("/supervision")
def supervision_page(request: Request, actor: SupervisorActor, center: CenterDep, period: Period):
    return _home(request, actor, center, period)


@router.post("/supervision/draw")
def make_draw(request: Request, actor: SupervisorForm, center: CenterDep, period: Period,
              start: Annotated[str, Form()] = "", end: Annotated[str, Form()] = "",
              share: Annotated[str, Form()] = "", seed: Annotated[str, Form()] = "",
              window_id: Annotated[str, Form()] = ""):
    form = dict(start=start, end=end, share=share, seed=seed, window_id=window_id)
    try:
        sample_id = samplework.make_draw(
            center, start=_day(start, "开始日期"), end=_day(end, "结束日期"), drawn_by=actor.name,
            share=share.strip() or None, seed=_seed(seed), window_id=window_id)
    except SamplingError as e:
        return _home(request, actor, center, period, error=str(e), form=form, status=422)
    return RedirectResponse(f"/supervision/samples/{sample_id}", status_code=303)


def _sample_page(request, actor, center, sample_id: int, *, error=None, audit=None, status=200):
    with center.engine.connect() as conn:
        s = samplework.sample(conn, sample_id)
        if s is None:
            raise Forbidden("没有这个抽样")
        calls = samplework.call_list(conn, sample_id)
        agreements = samplework.sample_agreement(conn, sample_id)
    return page(request, "sample.html", actor, s=s, drawn=show(from_db(s.drawn_at)), calls=calls,
                agreement=_rows(center, agreements),
                total=samplework.agreement_total(agreements.values()),
                thresholds=center.cfg.supervision, error=error, audit=audit, status=status)


@router.get("/supervision/samples/{sample_id}")
def sample_page(request: Request, actor: SupervisorActor, center: CenterDep, sample_id: int):
    return _sample_page(request, actor, center, sample_id)


@router.get("/supervision/samples/{sample_id}/audit")
def audit_page(request: Request, actor: SupervisorActor, center: CenterDep, sample_id: int):
    """Redo the draw with its stored seed, share and period, and compare."""
    try:
        audit = samplework.repeat(center, sample_id)
    except KeyError:
        raise Forbidden("没有这个抽样") from None
    return _sample_page(request, actor, center, sample_id, audit=audit)


@router.post("/supervision/items/{item_id}/visit")
def record_visit(request: Request, actor: SupervisorForm, center: CenterDep, item_id: int,
                 reached: Annotated[str, Form()] = "", rating: Annotated[str, Form()] = "",
                 remarks: Annotated[str, Form()] = ""):
    with center.engine.connect() as conn:
        sample_id = samplework.item_sample_id(conn, item_id)
    if sample_id is None:
        raise Forbidden("没有这个抽样办件")
    try:
        if reached not in ("yes", "no"):
            raise SamplingError("请选择是否联系上群众")
        samplework.record_visit(center, item_id, actor, reached=reached == "yes",
                                phone_rating=rating, remarks=remarks)
    except SamplingError as e:
        return _sample_page(request, actor, center, sample_id, error=f"回访未记录：{e}", status=422)
    return RedirectResponse(f"/supervision/samples/{sample_id}#item-{item_id}", status_code=303)
