"""Who is calling a page: the tenant's member from the ``tokenmall_session`` cookie, the
platform operator from ``tokenmall_operator`` (scoped to the platform console's path), and the
redirect to a login page for a page that needs one."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import Request

from tokenmall.config import Settings
from tokenmall.services.mall import accounts
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Unauthenticated
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.web import limits
from tokenmall.web.deps import SESSION_COOKIE

OPERATOR_COOKIE = "tokenmall_operator"
PLATFORM = "/-/platform"  # "-" is never a tenant id, so no tenant's pages can shadow these


def database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def settings(request: Request) -> Settings:
    found: Settings = request.app.state.settings
    return found


def _ttl(request: Request) -> timedelta:
    return timedelta(hours=settings(request).session_hours)


def _principal(request: Request, cookie: str) -> Principal | None:
    token = request.cookies.get(cookie)
    if not token:
        return None
    try:
        return accounts.authenticate(
            database(request), token, utc_now(), ttl=_ttl(request), idle=limits.idle_of(request)
        )
    except Unauthenticated:
        return None


def member(request: Request, tenant_id: str) -> Principal | None:
    """The tenant's logged-in user, or None (no session, expired, or another tenant's)."""
    found = _principal(request, SESSION_COOKIE)
    if found is None or found.tenant_id != tenant_id:
        return None
    return found


def operator(request: Request) -> Principal | None:
    found = _principal(request, OPERATOR_COOKIE)
    return found if found is not None and found.is_operator else None


class LoginNeeded(Exception):
    """Raised by a page that needs a session; ``PageRoute`` redirects to ``login_url``."""

    def __init__(self, login_url: str) -> None:
        super().__init__(login_url)
        self.login_url = login_url


def need_member(request: Request, tenant_id: str) -> Principal:
    found = member(request, tenant_id)
    if found is None:
        # Back to the very page after signing in, its query included (a buy-now's SKU).
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginNeeded(f"/{tenant_id}/login?next={quote(target, safe='/')}")
    return found


def need_operator(request: Request) -> Principal:
    found = operator(request)
    if found is None:
        raise LoginNeeded(f"{PLATFORM}/login")
    return found
