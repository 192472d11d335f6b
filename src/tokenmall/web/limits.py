"""Limits every request meets before a route reads it (the size of its body, the characters
of its path and query string), and the sign-in throttle and account settings of the app.

A body larger than ``Settings.max_body_bytes`` is refused with 413 before it is parsed: at once
when ``Content-Length`` says so, else as soon as the bytes read pass the limit (a chunked body).
A path or query string holding a control character (NUL included) is refused with 422 naming
the query parameter (or ``path``): such a value never reaches the database.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import timedelta
from urllib.parse import parse_qsl, unquote

from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tokenmall.config import Settings
from tokenmall.services.mall.accounts import LogSender, Sender
from tokenmall.services.mall.throttle import Throttle
from tokenmall.services.mall.validate import has_control

DEFAULT_MAX_BODY_BYTES = 1024 * 1024
# Image uploads (collection media, product images, banners) may be larger: up to this (the
# service refuses an image over its own limit with a 422 naming the field; over this, a 413).
UPLOAD_BODY_BYTES = 12 * 1024 * 1024
UPLOAD_PATHS = re.compile(
    r"^/(api/v1/tenants/[^/]+|[^/]+/admin)/(nfg/media|products/[^/]+/images|banners)$"
)
_THROTTLE_MADE = threading.Lock()


def _too_large(limit: int) -> str:
    return f"the request body is larger than {limit} bytes"


class RequestLimitsMiddleware:
    """Pure ASGI: refuses oversized bodies (413) and control characters in the URL (422)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refused = _url_refusal(scope)
        if refused is not None:
            await _answer(
                send,
                422,
                "invalid_input",
                f"{refused} must not contain control characters",
                refused,
            )
            return
        limit = self.max_body_bytes
        if scope.get("method") == "POST" and UPLOAD_PATHS.match(scope.get("path", "")):
            limit = max(limit, UPLOAD_BODY_BYTES)
        length = dict(scope.get("headers") or []).get(b"content-length")
        if length is not None:
            text = length.decode("latin-1")
            if not text.isdigit():
                await _answer(send, 400, "bad_request", "Content-Length is not a number", None)
                return
            if int(text) > limit:
                await _answer(send, 413, "payload_too_large", _too_large(limit), None)
                return
        seen = 0

        async def bounded_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    # An HTTPException passes through FastAPI's body reading unchanged and is
                    # answered by the error handlers (JSON for the API, a page for pages).
                    raise StarletteHTTPException(413, _too_large(limit))
            return message

        await self.app(scope, bounded_receive, send)


def _url_refusal(scope: Scope) -> str | None:
    """The name of the query parameter (or ``path``) holding a control character, if any."""
    if has_control(scope.get("path", "")):
        return "path"
    query = scope.get("query_string", b"").decode("latin-1")
    if "%" not in query and not has_control(query):
        return None
    for key, value in parse_qsl(query, keep_blank_values=True):
        if has_control(key) or has_control(value):
            return unquote(key) if not has_control(key) else "query"
    return None


async def _answer(send: Send, status: int, code: str, message: str, field: str | None) -> None:
    payload = json.dumps({"error": {"code": code, "message": message, "field": field}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})


def throttle_of(request: HTTPConnection) -> Throttle:
    """The application's sign-in and registration throttle (one per application)."""
    state = request.app.state
    with _THROTTLE_MADE:
        found = getattr(state, "throttle", None)
        if not isinstance(found, Throttle):
            found = state.throttle = Throttle()
    return found


def client_of(request: HTTPConnection) -> str:
    """The peer's address as the server sees it (uvicorn applies trusted proxy headers)."""
    return request.client.host if request.client is not None else "unknown"


def _settings(request: HTTPConnection) -> Settings:
    found: Settings = request.app.state.settings
    return found


def idle_of(request: HTTPConnection) -> timedelta | None:
    minutes = _settings(request).session_idle_minutes
    return timedelta(minutes=minutes) if minutes else None


def sender_of(request: HTTPConnection) -> Sender | None:
    """Where account mail goes, or None when no sender is configured."""
    return LogSender() if _settings(request).mail_sender == "log" else None
