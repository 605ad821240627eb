"""The lines of the admin screen, from the live parts (no Kivy).

Each part is optional (a kiosk under test may run without a source) and a
part that fails to answer shows 未知 instead of crashing the screen.
"""
from __future__ import annotations

import logging
from typing import Any

from kiosk.ui import strings as S

log = logging.getLogger(__name__)


def queue_state(source: Any) -> str:
    if source is None:
        return S.ADMIN_UNKNOWN
    try:
        st = source.status
    except Exception:   # a broken source must not take the admin screen down with it
        log.exception("queue source status failed")
        return S.ADMIN_UNKNOWN
    state = "已连接" if st.connected else "未连接"
    rejected = sum(st.rejected.values()) if st.rejected else 0
    return f"{state}（{st.detail}）；收到 {st.received}，拒收 {rejected}"


def outbox_counts(outbox: Any) -> dict[str, int] | None:
    if outbox is None or not hasattr(outbox, "counts"):
        return None
    try:
        return dict(outbox.counts())
    except Exception:
        log.exception("outbox counts failed")
        return None


def sync_state(counts: dict[str, int] | None, outbox: Any) -> str:
    if counts is None:
        return S.ADMIN_UNKNOWN
    pending = counts.get("pending", 0)
    if pending == 0:
        return f"已全部上传（已确认 {counts.get('archived', 0)} 条）"
    oldest = None
    try:
        oldest = outbox.oldest_pending_at()
    except Exception:
        log.exception("outbox oldest_pending_at failed")
    since = f"，最早一条 {oldest:%m-%d %H:%M}" if oldest else ""
    return f"待上传 {pending} 条{since}"


def admin_lines(*, source: Any, outbox: Any, flow: Any, device_id: str, version: str,
                test_mode: bool) -> list[str]:
    counts = outbox_counts(outbox)
    pending = counts.get("pending", 0) if counts is not None else S.ADMIN_UNKNOWN
    quarantined = counts.get("quarantined", 0) if counts is not None else S.ADMIN_UNKNOWN
    lines = [
        S.ADMIN_QUEUE.format(state=queue_state(source)),
        S.ADMIN_SYNC.format(state=sync_state(counts, outbox)),
        S.ADMIN_PENDING.format(count=pending),
        S.ADMIN_QUARANTINE.format(count=quarantined),
        S.ADMIN_DEVICE.format(device=device_id or S.ADMIN_UNKNOWN),
        S.ADMIN_VERSION.format(version=version or S.ADMIN_UNKNOWN),
        S.ADMIN_TEST_MODE.format(state=S.ADMIN_ON if test_mode else S.ADMIN_OFF),
    ]
    clock = getattr(flow, "clock_problem", None)
    if clock:   # first, where it is seen: a wrong clock stops every evaluation
        lines.insert(0, S.ADMIN_CLOCK_WRONG.format(problem=clock))
    counters = getattr(flow, "counters", None)
    if counters:
        lines.append("计数：" + "，".join(f"{k} {v}" for k, v in sorted(counters.items())))
    problem = getattr(flow, "journal_problem", None)
    if problem:
        lines.append(f"评价日志：{problem}")
    return lines


def bundle_line(config: Any, waiting: Any, problem: str | None) -> str:
    """The center's bundle in use, one waiting for the flow to be idle, and a
    bundle file the kiosk could not use."""
    b = getattr(config, "bundle", None)
    state = f"版本 {b.version}" if b is not None else S.ADMIN_BUNDLE_NONE
    if waiting is not None and getattr(waiting, "bundle", None) is not None:
        state += S.ADMIN_BUNDLE_WAITING.format(version=waiting.bundle.version)
    if problem:
        state += S.ADMIN_BUNDLE_REFUSED.format(problem=problem)
    pinned = sorted(getattr(getattr(config, "tablet", None), "pinned", ()) or ())
    if pinned:
        state += f"；本机锁定：{', '.join(pinned)}"
    return S.ADMIN_BUNDLE.format(state=state)
