"""Security headers on every answer, dashboard page and API alike.

The pages load their one script and one style sheet from /static, with no
inline script, style or event attribute, so the policy needs no
'unsafe-inline'. No page may be framed (clickjacking). HTML pages are not
stored by the browser: the case page shows a citizen's phone number, and
after logout on a shared hall PC the back button must not bring it back.
The one exception is the public page (CACHEABLE: the same for everyone,
nothing personal), whose own Cache-Control (public, max-age) is kept; on
every other HTML answer no-store replaces whatever a handler set.
"""
from __future__ import annotations

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
       "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'")
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),          # frame-ancestors for browsers without CSP 2
)
CACHEABLE = frozenset({"/public"})          # HTML that shared caches may keep (center/web/public.py)


def with_security_headers(headers: list[tuple[bytes, bytes]], *,
                          cacheable: bool = False) -> list[tuple[bytes, bytes]]:
    """The answer's headers plus ours (a header the handler set is kept,
    except Cache-Control on HTML that is not `cacheable`: no-store)."""
    have = {k.lower() for k, _ in headers}
    out = list(headers) + [(k, v) for k, v in HEADERS if k not in have]
    html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
    if html and not (cacheable and b"cache-control" in have):
        out = [(k, v) for k, v in out if k.lower() != b"cache-control"] + [(b"cache-control", b"no-store")]
    return out


class SecurityHeaders:
    """ASGI middleware: outermost, so even a 413 from BodyLimit carries them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        cacheable = scope.get("path") in CACHEABLE

        async def send_with_headers(msg):
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": with_security_headers(list(msg.get("headers", [])),
                                                               cacheable=cacheable)}
            await send(msg)

        await self.app(scope, receive, send_with_headers)
