"""省平台上报 (supervisors only): the provincial push's backlog, what went up
today, the last success and the last error, the records that do not go up,
and the messages failing most (center/upstreamwork.py)."""
from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request

from hallcore.hallclock import show

from .. import upstreamwork
from .deps import CenterDep, Supervisor, page

router = APIRouter(include_in_schema=False)


def shown_url(url: str | None) -> str:
    """The province's address without credentials or query (a token may sit there)."""
    if not url:
        return ""
    u = urlsplit(url)
    host = u.hostname or ""
    return f"{u.scheme}://{host}{':' + str(u.port) if u.port else ''}{u.path}"


@router.get("/upstream")
def upstream_page(request: Request, actor: Supervisor, center: CenterDep):
    now = center.clock()
    with center.engine.connect() as conn:
        st = upstreamwork.status(conn, now, center.cfg.upstream)
    return page(request, "upstream.html", actor, st=st, url=shown_url(st.url), show=show,
                oldest_age=upstreamwork.age_text(st.oldest_pending_at, now),
                skip_labels=upstreamwork.SKIP_LABELS)
