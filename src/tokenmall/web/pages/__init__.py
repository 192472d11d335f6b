"""Server-rendered pages: the consumer H5 mall, the tenant's admin console and the
platform operator's console. Jinja2 templates, HTMX for enhancement, Babel catalogues (zh_CN
by default, English with ``?lang=en``). See docs/pages.md.

URLs: ``/{tenant}/…`` the mall, ``/{tenant}/admin/…`` the console, ``/-/platform/…`` the
operator's console, ``/-/static/…`` the vendored scripts and the stylesheet. ``-`` can never be
a tenant id, so no tenant's pages shadow the platform's.

Pages are the API's twin for people: they call the same use cases (``services/mall/*``) with the
caller read from a cookie (``sessions``), so no rule is written twice. A form is a plain POST
answered by a 303 redirect; every form carries a CSRF token (``csrf``) and a form key that
replays a double submit through the API's idempotency store (``forms``). A refused form
re-renders with the message next to the field at fault and changes nothing (one transaction,
rolled back). What every page shares: ``rendering`` (templates, headers), ``i18n`` (catalogues,
formatting) and ``errors`` (``PageRoute`` turns every other error into an HTML page, never a
traceback).
"""

from __future__ import annotations

import mimetypes
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match
from starlette.types import Scope

from tokenmall.services.mall import tenants
from tokenmall.web.pages import (
    access,
    account,
    addresses,
    admin,
    anchoring_admin,
    console,
    console_payments,
    console_refunds,
    kyc,
    mall,
    market,
    market_admin,
    market_cash,
    market_trades,
    nfg_certificate,
    nfg_drop,
    nfg_registry,
    nfg_rights,
    nfg_tokens_admin,
    payouts,
    platform,
    rendering,
    sessions,
    share,
    shop,
    statement,
    storefront_admin,
    wechat_pay,
)
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.rendering import STATIC, STATIC_PREFIX, render
from tokenmall.web.routing import GuardedRouter

router = APIRouter(include_in_schema=False)
_static = APIRouter(route_class=PageRoute, include_in_schema=False)


@_static.get(STATIC_PREFIX + "/{path:path}")
def static_file(path: str) -> Response:
    """A file under web/static (no directory listing, no way out of the folder)."""
    target = (STATIC / path).resolve()
    if STATIC not in target.parents or not target.is_file():
        raise StarletteHTTPException(404)
    media_type = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
    if target.suffix == ".js":
        media_type = "text/javascript"
    return FileResponse(
        target,
        media_type=media_type,
        headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"},
    )


@_static.get("/favicon.ico")
def favicon() -> Response:
    """Browsers ask for /favicon.ico whatever the page says: the same icon."""
    return FileResponse(
        STATIC / "favicon.svg",
        media_type="image/svg+xml",
        headers={"Cache-Control": "public, max-age=86400", "X-Content-Type-Options": "nosniff"},
    )


@_static.get("/")
def landing(request: Request) -> Response:
    """The site's root leads to a mall: the deployment's own (``home_tenant``) at once, else
    the directory of the platform's malls."""
    home = sessions.settings(request).home_tenant
    with sessions.database(request).reading() as uow:
        malls = tenants.directory(uow, 200)
    if home is not None and any(m.tenant_id == home for m in malls):
        return rendering.redirect(f"/{home}/")
    return render(request, "landing.html", {"malls": malls})


class _Fallback(PageRoute):
    """Any other GET that no route answers gets the HTML 404 page, except under ``/api/`` (and
    the API's own documents), which keep the API's JSON answers, 405s included."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        path = str(scope.get("path", ""))
        if path.startswith("/api/") or path in ("/api", "/docs", "/redoc", "/openapi.json"):
            return Match.NONE, {}
        return super().matches(scope)


def _not_found(path: str) -> Any:
    raise StarletteHTTPException(404)


_fallback = APIRouter(route_class=_Fallback, include_in_schema=False)
_fallback.add_api_route("/{path:path}", _not_found, methods=["GET"])

for part in (
    _static,
    platform.router,
    admin.router,
    storefront_admin.router,  # the console's product images, categories and banners
    access.router,  # the console's API keys, caps, audit trail and referral flags
    console.router,
    anchoring_admin.router,  # the console's anchoring of the log on an EVM chain
    console_payments.router,  # the console's payment channels and their keys
    console_refunds.router,  # an order's refund actions (approve … abandon)
    mall.router,
    share.router,  # a product's share poster
    shop.router,  # the consumer's cart, checkout and orders
    wechat_pay.router,  # paying inside WeChat: OAuth for the openid, JSAPI, the QR fallback
    account.router,  # the consumer's wallet, referral and withdrawals
    statement.router,  # the consumer's statement of movements (流水)
    addresses.router,  # the consumer's address book
    kyc.router,  # real-name verification: the consumer's form, the console's review queue
    payouts.router,  # the payee account, the console's payouts and reconciliations (对账)
    nfg_registry.router,  # NFG collections in the console, the consumer's collection
    nfg_certificate.router,  # a token's public certificate and the offline verifier
    nfg_drop.router,  # the drop: drops on sale, buying, reservations
    nfg_rights.router,  # NFG redemption (consumers), entry scan and redemptions (console)
    nfg_tokens_admin.router,  # the console's tokens of a collection, one token, its burn
    market_cash.router,  # the market's cash and deposits (before the collection's routes)
    market.router,  # the market (文交所): collections, K-line, depth, the trading forms, orders
    market_admin.router,  # the market's console: profile, collection settings, holidays
    market_trades.router,  # the market's console: trades (filters, pages), CSV export
    _fallback,
):
    # Each part behind its own guard: a path is tried only against the part whose patterns
    # match it (``web/routing.py``), not against every route of the parts before it.
    guarded = GuardedRouter(include_in_schema=False)
    guarded.include_router(part)
    router.include_router(guarded)

__all__ = ["router"]
