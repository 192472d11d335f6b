"""Parameters shared by the routers."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Path, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database
from tokenmall.web import idempotent
from tokenmall.web.deps import sign_in_of
from tokenmall.web.errors import COMMON, responses

TenantId = Annotated[str, Path(max_length=32, description="The tenant's id, such as acme")]
ResourceId = Annotated[str, Path(max_length=40)]
After = Annotated[
    str | None, Query(max_length=40, description="Return items after this id (paging)")
]
Limit = Annotated[int, Query(ge=1, le=200, description="At most this many items")]


def next_after(ids: list[str], limit: int) -> str | None:
    """The cursor for the next page, if this one was full."""
    return ids[-1] if len(ids) == limit else None


def write(
    request: Request,
    db: Database,
    caller: Principal | None,
    tenant_id: str,
    key: str,
    payload: BaseModel | None,
    make: Callable[[Connection], BaseModel],
    *,
    status_code: int = 200,
    status_of: Callable[[BaseModel], int] | None = None,
) -> Response:
    """Answer a mutating route once per ``Idempotency-Key``: ``make`` builds the response body
    inside the request's transaction; a replay answers what the first call did. ``status_of``:
    the status from the body (202 for work the other side has not finished)."""

    def action(conn: Connection) -> idempotent.Outcome:
        body = make(conn)
        return (status_code if status_of is None else status_of(body)), body, None

    return idempotent.run(
        request, db, tenant_id=tenant_id, caller=caller, key=key, payload=payload, action=action
    )


def write_signed_in(
    request: Request,
    db: Database,
    token: str | None,
    tenant_id: str,
    key: str,
    payload: BaseModel | None,
    make: Callable[[Connection, Principal | None], BaseModel],
    *,
    status_code: int = 200,
) -> Response:
    """``write`` with the caller of ``token`` authenticated inside the same transaction (a hot
    write: one transaction a request, not a reading one before it)."""

    def action(conn: Connection, caller: Principal | None) -> idempotent.Outcome:
        return status_code, make(conn, caller), None

    return idempotent.run_signed_in(
        request,
        db,
        tenant_id=tenant_id,
        sign_in=sign_in_of(request, token),
        key=key,
        payload=payload,
        action=action,
    )


IMMUTABLE = "public, max-age=31536000, immutable"
IMAGE: dict[int | str, dict[str, Any]] = {
    200: {"content": {"image/png": {}, "image/jpeg": {}, "image/webp": {}}},
    **responses(*COMMON),
}


def image_response(request: Request, body: bytes, content_type: str, etag: str) -> Response:
    """A stored image under an id that never changes its content: cached for good, with its
    content hash as the ETag (a matching ``If-None-Match`` answers 304 without the body)."""
    headers = {"Cache-Control": IMMUTABLE, "ETag": f'"{etag}"', "X-Content-Type-Options": "nosniff"}
    if request.headers.get("if-none-match") == f'"{etag}"':
        return Response(status_code=304, headers=headers)
    return Response(body, media_type=content_type, headers=headers)
