"""HTTP conditional requests: the one If-None-Match rule for the answers the
center lets clients keep (the tablets' bundle, the public page)."""
from __future__ import annotations


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    """RFC 9110 If-None-Match: `*`, or any listed tag equal to `etag` under
    weak comparison (a W/ prefix on either side is ignored)."""
    if not if_none_match:
        return False
    tags = [t.strip() for t in if_none_match.split(",")]
    bare = etag.removeprefix("W/")
    return any(t == "*" or t.removeprefix("W/") == bare for t in tags)


__all__ = ["etag_matches"]
