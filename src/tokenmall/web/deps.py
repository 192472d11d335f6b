"""Dependencies of the routes: the database, the settings, the caller, the Idempotency-Key."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tokenmall.config import Settings
from tokenmall.services.mall import accounts
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Unauthenticated
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.web import limits
from tokenmall.web.errors import BadRequest

SESSION_COOKIE = "tokenmall_session"

# Pages may send the session cookie set by login instead; it is read from the request rather
# than declared as a second security scheme, because OpenAPI would read two schemes on one
# operation as "both required", and they are alternatives.
_bearer = HTTPBearer(
    auto_error=False,
    description="A session token (tms.…), an API key (tmk.…) or an operator token (tmo.…); "
    f"pages may send the `{SESSION_COOKIE}` cookie set by login instead",
)


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def session_ttl(request: Request) -> timedelta:
    return timedelta(hours=settings(request).session_hours)


async def credential(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str | None:
    """The token the request came with (bearer, else the session cookie), not yet checked
    (``async``: no thread hand-over for reading two headers)."""
    if request.headers.get("authorization") and bearer is None:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return bearer.credentials if bearer is not None else request.cookies.get(SESSION_COOKIE)


def caller(request: Request, token: Annotated[str | None, Depends(credential)]) -> Principal | None:
    """The authenticated caller, or None when no credentials came (routes decide if allowed)."""
    if token is None:
        return None
    return accounts.authenticate(
        database(request), token, utc_now(), ttl=session_ttl(request), idle=limits.idle_of(request)
    )


def sign_in_of(request: Request, token: str | None) -> accounts.SignIn:
    """``caller`` done inside a write's own transaction (``idempotent.run_signed_in``)."""
    return accounts.SignIn(token, session_ttl(request), limits.idle_of(request))


async def idempotency_key(
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="Required: a unique key per intended change (a UUID); a retry with the "
            "same key and request gets the first answer, with a different request a 409.",
        ),
    ] = None,
) -> str:
    from tokenmall.services.mall.errors import InvalidInput
    from tokenmall.services.mall.idempotency import check_key

    try:
        return check_key(key)
    except InvalidInput as exc:
        raise BadRequest(str(exc), "Idempotency-Key") from None


async def _database(request: Request) -> Database:
    # ``async``: FastAPI runs a plain ``def`` dependency in its thread pool (a thread hand-over
    # per dependency per request); this one only reads the app's state.
    return database(request)


Db = Annotated[Database, Depends(_database)]
Caller = Annotated[Principal | None, Depends(caller)]
Credential = Annotated[str | None, Depends(credential)]
IdempotencyKey = Annotated[str, Depends(idempotency_key)]


async def single_query_values(request: Request) -> None:
    """No query parameter of this API is a list: a repeated one is refused, not half-read."""
    from tokenmall.services.mall.errors import InvalidInput

    keys = [key for key, _ in request.query_params.multi_items()]
    for key in set(keys):
        if keys.count(key) > 1:
            raise InvalidInput(f"query parameter {key!r} given more than once", key)
