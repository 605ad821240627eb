"""Security headers on every answer, dashboard page and API alike.

The pages load their one script and one style sheet from /static, with no
inline script, style or event attribute, so the policy needs no
'unsafe-inline'. No page may be framed (clickjacking). HTML pages are not
stored by the browser: the case page shows a citizen's phone number, and
after logout on a shared hall PC the back button must not bring it back.
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


def with_security_headers(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """The answer's headers plus ours (a header the handler set is kept)."""
    have = {k.lower() for k, _ in headers}
    out = list(headers) + [(k, v) for k, v in HEADERS if k not in have]
    html = any(k.lower() == b"content-type" and v.startswith(b"text/html") for k, v in headers)
    if html and b"cache-control" not in have:
        out.append((b"cache-control", b"no-store"))
    return out


class SecurityHeaders:
    """ASGI middleware: outermost, so even a 413 from BodyLimit carries them."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_with_headers(msg):
            if msg["type"] == "http.response.start":
                msg = {**msg, "headers": with_security_headers(list(msg.get("headers", [])))}
            await send(msg)

        await self.app(scope, receive, send_with_headers)
