"""Every error the service answers, mapped in one place to a status and one body shape:
``{"error": {"code": "...", "message": "...", "field": "..." | null}}``.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from tokenmall.domain.errors import DomainError, ErrorKind, Malformed
from tokenmall.domain.ledger.journal import IdempotencyConflict
from tokenmall.services.mall import errors as mall
from tokenmall.web.logs import REQUEST_ID_SCOPE_KEY, request_id_var

log = logging.getLogger("tokenmall.web")


class BadRequest(mall.MallError, Malformed):
    """The request itself is malformed (a header, the JSON syntax)."""

    code = "bad_request"


class ErrorDetail(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str
    message: str
    field: str | None = None


class ErrorBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    error: ErrorDetail


_DESCRIPTIONS = {
    400: "Malformed request (bad JSON, missing or bad Idempotency-Key header)",
    401: "Missing, wrong, expired or revoked credentials",
    403: "The caller's role may not do this",
    404: "No such resource in this tenant (also what other tenants' callers are told)",
    409: "Conflicts with what exists, or an Idempotency-Key reused for another request",
    413: "The request body is larger than the server accepts",
    422: "A field fails validation; `field` names it",
    429: "Too many attempts: wait the `Retry-After` seconds, then try again",
    503: "Not ready",
}


def responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the error statuses a route can answer."""
    return {code: {"model": ErrorBody, "description": _DESCRIPTIONS[code]} for code in codes}


def json_responses(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The same declarations for a route whose success is not JSON (its errors still are)."""
    body = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    return {
        code: {"description": _DESCRIPTIONS[code], "content": {"application/json": body}}
        for code in codes
    }


# Every route may answer these (authentication and request parsing come first).
COMMON = (400, 401, 404, 422)

# The one place a kind of refusal becomes an HTTP status.
STATUS_OF_KIND: dict[ErrorKind, int] = {
    ErrorKind.MALFORMED: 400,
    ErrorKind.UNAUTHENTICATED: 401,
    ErrorKind.FORBIDDEN: 403,
    ErrorKind.NOT_FOUND: 404,
    ErrorKind.CONFLICT: 409,
    ErrorKind.INVALID: 422,
    ErrorKind.THROTTLED: 429,
}


def body(code: str, message: str, field: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "field": field}}


def status_of(exc: DomainError) -> int:
    return STATUS_OF_KIND[exc.kind]


_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


def code_of(exc: DomainError) -> str:
    """The stable snake_case code of a refusal: its own ``code``, else its class name in
    snake_case (``InsufficientBalance`` is ``insufficient_balance``); docs/api.md lists them."""
    own = getattr(exc, "code", None)
    if isinstance(own, str) and own:
        return own
    return _CAMEL.sub("_", type(exc).__name__).lower()


def retry_after_of(exc: DomainError) -> int | None:
    """Seconds a throttled caller should wait (``Retry-After``), if the refusal says."""
    seconds = getattr(exc, "retry_after", None)
    return seconds if isinstance(seconds, int) else None


def _english(request: Request) -> bool:
    if request.query_params.get("lang") == "en":
        return True
    return request.headers.get("accept-language", "").lower().startswith("en")


def message_of(request: Request, exc: DomainError) -> str:
    """A refusal's sentence: Chinese first when the refusal has one (the market's codes), with
    the English detail after it; English alone with ``?lang=en`` or ``Accept-Language: en``."""
    if exc.zh is None or _english(request):
        return str(exc)
    return f"{exc.zh}（{exc}）"


def _domain(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DomainError)
    if isinstance(exc, IdempotencyConflict):
        # A step of this request was already taken by another one (e.g. two approvals of one
        # refund at once): a documented conflict, never the ledger's internal key.
        return JSONResponse(
            body(
                "idempotency_conflict",
                "this step was already taken by another request; read the resource again",
            ),
            status_code=409,
        )
    status = status_of(exc)
    field = getattr(exc, "field", None)
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    retry_after = retry_after_of(exc)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return JSONResponse(
        body(code_of(exc), message_of(request, exc), field),
        status_code=status,
        headers=headers or None,
    )


def _field_of(loc: tuple[Any, ...]) -> str | None:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    if not parts and loc[:1] == ("body",):
        return "body"  # the whole body: missing, or not an object
    return ".".join(parts) or None


def _validation(_: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    loc = tuple(first.get("loc", ()))
    field = _field_of(loc)
    kind = first.get("type", "")
    if kind == "json_invalid":
        return JSONResponse(body("bad_request", "the body is not valid JSON"), status_code=400)
    if kind == "extra_forbidden":
        message = f"unknown field {field!r}"
    elif kind == "missing":
        message = f"{field} is required"
    elif kind in ("string_type", "model_attributes_type", "dict_type") and field:
        message = f"{field}: {first.get('msg', 'wrong type')}"
        if kind == "string_type":
            message += ' (decimals travel as JSON strings, such as "12.50")'
    else:
        message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    return JSONResponse(body("invalid_request", message, field), status_code=422)


def _allowed_methods(request: Request) -> str:
    """Every method of every route at this path (Starlette's own 405 names only one route's)."""
    from starlette.routing import Match, Route

    methods: set[str] = set()
    for route in request.app.routes:
        if isinstance(route, Route) and route.methods:
            match, _ = route.matches({**request.scope, "method": next(iter(route.methods))})
            if match == Match.FULL:
                methods |= route.methods
    return ", ".join(sorted(methods))


def _http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    codes = {
        404: "not_found",
        405: "method_not_allowed",
        401: "unauthenticated",
        413: "payload_too_large",
    }
    code = codes.get(exc.status_code, "http_error")
    message = "no such endpoint" if exc.status_code == 404 else str(exc.detail)
    headers = dict(getattr(exc, "headers", None) or {})
    if exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)
    return JSONResponse(body(code, message), status_code=exc.status_code, headers=headers or None)


RETRY_AFTER_SECONDS = 1


def _busy(request: Request, exc: Exception) -> JSONResponse:
    """The database could not take the request now (no connection left, in the pool or on the
    server; a lock or a conflict it gave up on): nothing was committed, so the client may
    send the same request again (with the same Idempotency-Key) after ``Retry-After``."""
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY) or request_id_var.get()
    log.warning(
        "database busy: answered 503",
        extra={"fields": {"request_id": request_id, "error": type(exc).__name__}},
    )
    return JSONResponse(
        body("busy", "the service is busy; send the same request again in a moment"),
        status_code=503,
        headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
    )


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: logged with its traceback, answered 500 with the request id in the body and the
    ``X-Request-ID`` header. This handler runs outside the request id middleware (Starlette
    calls it from its outermost layer), so the id comes from the request's scope."""
    request_id = request.scope.get(REQUEST_ID_SCOPE_KEY) or request_id_var.get()
    token = request_id_var.set(request_id)
    try:
        log.exception("unhandled error", exc_info=exc)
    finally:
        request_id_var.reset(token)
    return JSONResponse(
        body("internal", f"internal error (request id {request_id})"),
        status_code=500,
        headers={"X-Request-ID": request_id} if request_id else None,
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(DomainError, _domain)
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http)
    app.add_exception_handler(OperationalError, _busy)
    app.add_exception_handler(PoolTimeout, _busy)
    app.add_exception_handler(Exception, _unexpected)
