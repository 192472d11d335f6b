"""Headers every response carries against framing, sniffing and leaking referrers.

A response that set its own (the pages, the sandbox's page) keeps them; the others get
``X-Frame-Options: DENY``, ``X-Content-Type-Options: nosniff``, ``Referrer-Policy:
same-origin`` and a Content-Security-Policy: ``frame-ancestors 'none'`` with nothing to load
for JSON, and ``frame-ancestors 'none'`` with plugins and ``<base>`` shut for the rest.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

JSON_POLICY = "default-src 'none'; frame-ancestors 'none'"
OTHER_POLICY = "frame-ancestors 'none'; object-src 'none'; base-uri 'none'"
_FIXED = (
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)


def _added(headers: list[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    present = {name.lower(): value for name, value in headers}
    extra = [(name, value) for name, value in _FIXED if name not in present]
    if b"content-security-policy" not in present:
        json = present.get(b"content-type", b"").startswith(b"application/json")
        policy = JSON_POLICY if json else OTHER_POLICY
        extra.append((b"content-security-policy", policy.encode("ascii")))
    return headers + extra


class SecurityHeadersMiddleware:
    """Pure ASGI: adds the headers a response lacks, at its start."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = _added(list(message.get("headers", [])))
            await send(message)

        await self.app(scope, receive, send_with_headers)
