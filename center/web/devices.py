"""设备状态: each tablet's heartbeat, backlog, quarantine, seq gaps, clock, chain,
and what the center's bundle gave it (DESIGN.md §4.9)."""
from __future__ import annotations

from datetime import timedelta
from typing import Any, Mapping

from fastapi import APIRouter, Request

from hallcore.hallclock import from_db, show

from .. import devicefacts, queries
from ..cases import can_see
from .deps import CenterDep, CurrentActor, Forbidden, page

router = APIRouter(include_in_schema=False)
SILENT_AFTER = timedelta(minutes=15)
CALENDAR_WORDS = {"override": "已核实（节假日文件）", "official": "已核实（官方数据）",
                  "estimated": "未核实（按规则估算）"}


def bundle_state(hb: Mapping[str, Any], latest: str | None) -> dict[str, Any]:
    """The tablet's bundle against the center's latest for its window."""
    b = hb.get("bundle") if isinstance(hb.get("bundle"), dict) else {}
    version = b.get("version")
    return dict(version=version, latest=latest, reported=isinstance(hb.get("bundle"), dict),
                current=version is not None and version == latest, error=b.get("error"),
                refused=b.get("refused") or 0)


def calendar_state(hb: Mapping[str, Any]) -> list[dict[str, Any]]:
    """[{year, text, verified}] from the heartbeat's "calendar", by year."""
    cal = hb.get("calendar") if isinstance(hb.get("calendar"), dict) else {}
    return [dict(year=y, text=CALENDAR_WORDS.get(v, str(v)), verified=v in ("override", "official"))
            for y, v in sorted(cal.items())]


@router.get("/devices")
def device_page(request: Request, actor: CurrentActor, center: CenterDep):
    now = center.clock()
    with center.engine.connect() as conn:
        rows = queries.device_list(conn, actor.scope)
        latest = {(d.hall_id, d.window_id): center.bundles.latest(conn, d.hall_id, d.window_id).version
                  for d in rows}
    items = []
    for d in rows:
        hb = d.heartbeat or {}
        seen = from_db(d.heartbeat_at)
        seqs = devicefacts.seq_counts(d)
        items.append(dict(
            id=d.device_id, hall=d.hall_id, window=d.window_id, region=d.region_code,
            count=d.record_count, gaps=seqs.missing, repeated=seqs.repeated,
            conflicts=d.conflict_count, max_seq=d.max_seq,
            rejected=d.rejected_count, heartbeat=show(seen),
            silent=seen is None or (now - seen) > SILENT_AFTER,
            pending=hb.get("pending"), oldest=hb.get("oldest_pending"),
            quarantined=hb.get("quarantined"), quarantined_ids=hb.get("quarantined_ids") or [],
            last_error=hb.get("last_error"), version=hb.get("version"),
            skew=d.clock_skew_s, clock_problem=hb.get("clock_problem"),
            # an unknown skew (no readable tablet clock) is flagged, like a large one
            skew_flagged=(d.heartbeat_at is not None and d.clock_skew_s is None) or bool(hb.get("clock_problem"))
            or (d.clock_skew_s is not None and abs(d.clock_skew_s) > center.cfg.clock_skew_warn_s),
            last_post=show(from_db(d.last_post_at)), chain=devicefacts.chain_state(d),
            bundle=bundle_state(hb, latest[(d.hall_id, d.window_id)]), calendar=calendar_state(hb),
            pinned=[str(x) for x in hb.get("pinned") or []]))
    return page(request, "devices.html", actor, items=items)


@router.get("/devices/{device_id}/gaps")
def device_gaps(request: Request, actor: CurrentActor, center: CenterDep, device_id: str):
    """The missing seq ranges of one tablet (computed on demand)."""
    with center.engine.connect() as conn:
        d = queries.device(conn, device_id)
        if d is None or not can_see(actor, d.window_id):
            raise Forbidden("没有这台设备")
        gaps = queries.seq_gaps(conn, device_id)
        repeated = devicefacts.repeated_seqs(conn, device_id)
        conflicts = devicefacts.conflicts(conn, device_id)
    return page(request, "gaps.html", actor, device=d, gaps=gaps, repeated=repeated, conflicts=conflicts,
                chain=devicefacts.chain_state(d))
