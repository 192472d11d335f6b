"""The consumer H5 mall (mobile-first): home, product, login, register from an invite, me."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.catalogue import Merchant, Product, Sku
from tokenmall.domain.mall.people import Role
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.domain.money import format_points, format_price
from tokenmall.services import figures, lookups
from tokenmall.services.mall import accounts, catalogue, people
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.store import images
from tokenmall.web import limits
from tokenmall.web.deps import SESSION_COOKIE
from tokenmall.web.errors import retry_after_of, status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions, snapshots, storefront
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def tenant_or_404(request: Request, tenant_id: str) -> Tenant:
    with sessions.database(request).read() as conn:
        tenant = lookups.find_tenant(conn, tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant


def public_tenant(request: Request, tenant_id: str) -> Tenant:
    """``tenant_or_404`` through the worker's snapshots, for the storefront's public pages."""

    def load() -> Tenant | None:
        with sessions.database(request).read() as conn:
            return lookups.find_tenant(conn, tenant_id)

    tenant = snapshots.of(request).get(("tenant", tenant_id), load)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant


def storefront_member(request: Request, tenant_id: str) -> Principal | None:
    """``sessions.member`` for the storefront's public pages, kept in the snapshots under a
    hash of the session token: these pages show a member only their tabs and their own invite
    code, so a session revoked or expired in another worker may still see them here for up to
    ``snapshots.LIFETIME`` (a logout through this worker is a commit: at once). Every page that
    acts or shows more asks ``sessions.member`` afresh."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    key = ("member", tenant_id, hashlib.blake2b(token.encode(), digest_size=20).digest())
    return snapshots.of(request).get(key, lambda: sessions.member(request, tenant_id))


def same_site_path(tenant_id: str, target: str | None) -> str | None:
    """``target`` if it is a path of this tenant's pages (no scheme, no host, no ``//``, no
    ``..``, no backslash or control character, at most 300 characters), else None: a link or a
    redirect built from it never leaves the site."""
    home = f"/{tenant_id}/"
    if not target or len(target) > 300 or not target.startswith(home):
        return None
    if "//" in target or "\\" in target or "/../" in target or target.endswith("/.."):
        return None
    if not target.isprintable() or any(c.isspace() or c in "<>\"'" for c in target):
        return None
    return target


def _safe_next(tenant_id: str, target: str | None) -> str:
    """Only a path of this tenant's pages: never an open redirect."""
    return same_site_path(tenant_id, target) or f"/{tenant_id}/"


@router.get("/{tenant_id}")
def mall_root(request: Request, tenant_id: str) -> Response:
    tenant_or_404(request, tenant_id)
    return rendering.redirect(f"/{tenant_id}/")


@router.get("/{tenant_id}/")
def home(request: Request, tenant_id: str) -> Response:
    """The shop window, for everyone: a shared link opens without an account. Banners,
    category tabs and a search box above the products, a page at a time."""
    tenant = public_tenant(request, tenant_id)
    caller = storefront_member(request, tenant_id)
    context = storefront.home_context(request, tenant_id)
    return render(
        request,
        "mall/home.html",
        {"tenant": tenant, **context},
        caller=caller,
        status_code=context["status"],
    )


def _product_figures(
    conn: Connection, tenant_id: str, product: Product, skus: list[Sku], merchant: Merchant
) -> dict[str, Any]:
    """A product's options with what buying each would grant now, its pictures, and what
    backs the points: one read transaction."""
    effects, backing = figures.product_rewards(
        conn, tenant_id, [(s.price_fen, s.pool_contribution_fen) for s in skus]
    )
    found = images.of_products(MallUnitOfWork.joining(conn), tenant_id, [product.product_id])
    return {
        "product": product,
        "skus": skus,
        "merchant": merchant,
        "images": [storefront.picture(i) for i in found.get(product.product_id, [])],
        "rewards": {
            sku.sku_id: {
                "points": format_points(e.buyer_units),
                "value": e.buyer_value_fen,
                "quota": e.quota_added_fen,
                "pool": e.contribution_fen,
            }
            for sku, e in zip(skus, effects, strict=True)
        },
        "backing": {
            "pool": backing.pool_fen,
            "circulating": format_points(backing.circulating_units),
            "price": format_price(backing.price_num, backing.price_den, 4),
        },
    }


def product_context(
    request: Request, tenant_id: str, caller: Principal | None, product_id: str
) -> dict[str, Any]:
    """A product page's figures: the product (active only, for a visitor or a consumer: the
    worker's snapshot), its options with what buying each would grant now, and what backs the
    points. Staff also see their inactive products, read afresh."""
    if caller is None or caller.role == Role.CONSUMER:

        def load() -> dict[str, Any]:
            with sessions.database(request).read() as conn:
                uow = MallUnitOfWork.joining(conn)
                found = catalogue.public_product(uow, tenant_id, product_id)
                return _product_figures(conn, tenant_id, *found)

        shown = snapshots.of(request).get(("product", tenant_id, product_id), load)
    else:
        with sessions.database(request).read() as conn:
            uow = MallUnitOfWork.joining(conn)
            product, skus = catalogue.get_product(uow, caller, tenant_id, product_id)
            merchant = catalogue.get_merchant(uow, caller, tenant_id, product.merchant_id)
            shown = _product_figures(conn, tenant_id, product, skus, merchant)
    return {**shown, "share": storefront.share_links(request, tenant_id, caller, product_id)}


@router.get("/{tenant_id}/products/{product_id}")
def product_page(request: Request, tenant_id: str, product_id: str) -> Response:
    """A product, for everyone; its add-to-cart asks a visitor to log in and come back."""
    tenant = public_tenant(request, tenant_id)
    caller = storefront_member(request, tenant_id)
    context = product_context(request, tenant_id, caller, product_id)
    return render(request, "mall/product.html", {"tenant": tenant, **context}, caller=caller)


# --- login and logout ---


@router.get("/{tenant_id}/login")
def login_page(request: Request, tenant_id: str) -> Response:
    tenant = tenant_or_404(request, tenant_id)
    nxt = _safe_next(tenant_id, request.query_params.get("next"))
    registered = request.query_params.get("registered") == "1"
    return render(
        request, "mall/login.html", {"tenant": tenant, "next": nxt, "registered": registered}
    )


def _set_session(request: Request, response: Response, token: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",
        secure=sessions.settings(request).cookie_secure,
        max_age=sessions.settings(request).session_hours * 3600,
    )


# Where a member lands after signing in when no page asked for it: their own console.
_LANDING = {Role.ADMIN: "/admin/", Role.MERCHANT: "/admin/products"}


def _login(request: Request, tenant_id: str, email: str, password: str) -> tuple[Role, str]:
    """Sign in (throttled; the hash in the bounded pool): run it in the thread pool."""
    user, issued = accounts.login(
        sessions.database(request),
        limits.throttle_of(request),
        tenant_id,
        email,
        password,
        client=limits.client_of(request),
        now=utc_now(),
        ttl=timedelta(hours=sessions.settings(request).session_hours),
        idle=limits.idle_of(request),
    )
    return user.role, issued.token


@router.post("/{tenant_id}/login")
async def login_post(request: Request, tenant_id: str) -> Response:
    tenant = tenant_or_404(request, tenant_id)
    form = await forms.read_form(request)
    nxt = _safe_next(tenant_id, forms.text_field(form, "next"))
    try:
        csrf.check_csrf(request, None, form)
        role, token = await run_in_threadpool(
            _login,
            request,
            tenant_id,
            forms.text_field(form, "email"),
            forms.text_field(form, "password"),
        )
    except DomainError as exc:
        state = FormState.of(form, exc)
        if getattr(exc, "field", None) is None:
            state.errors = {"password": str(exc)}
        page = render(
            request,
            "mall/login.html",
            {"tenant": tenant, "next": nxt, "form": state},
            status_code=status_of(exc),
        )
        if retry_after_of(exc) is not None:
            page.headers["Retry-After"] = str(retry_after_of(exc))
        return page
    if nxt == f"/{tenant_id}/" and role in _LANDING:
        nxt = f"/{tenant_id}{_LANDING[role]}"
    response = rendering.redirect(nxt)
    _set_session(request, response, token)
    return response


@router.post("/{tenant_id}/logout")
async def logout_post(request: Request, tenant_id: str) -> Response:
    caller = sessions.member(request, tenant_id)
    form = await forms.read_form(request)
    if caller is not None:
        csrf.check_csrf(request, caller, form)
        with sessions.database(request).unit() as uow:
            people.logout(uow, caller, utc_now())
    response = rendering.redirect(f"/{tenant_id}/")
    response.delete_cookie(SESSION_COOKIE)
    return response


# --- registration from an invite link ---


@router.get("/{tenant_id}/register")
def register_page(request: Request, tenant_id: str) -> Response:
    tenant = tenant_or_404(request, tenant_id)
    invite = (request.query_params.get("invite") or "").strip()[:64]
    return render(
        request,
        "mall/register.html",
        {"tenant": tenant, "form": FormState({"invite_code": invite})},
    )


def _register_error(request: Request, tenant: Tenant, form: FormData, exc: DomainError) -> Response:
    return render(
        request,
        "mall/register.html",
        {"tenant": tenant, "form": FormState.of(form, exc)},
        status_code=status_of(exc),
    )


@router.post("/{tenant_id}/register")
async def register_post(request: Request, tenant_id: str) -> Response:
    tenant = tenant_or_404(request, tenant_id)
    form = await forms.read_form(request)
    email = forms.text_field(form, "email")
    password = forms.text_field(form, "password")
    invite = forms.text_field(form, "invite_code").strip()
    try:
        csrf.check_csrf(request, None, form)
        if password != forms.text_field(form, "password_again"):
            raise InvalidInput("the two passwords differ", "password_again")
        limits.throttle_of(request).before_register(tenant_id, limits.client_of(request))
        forms.submit(
            request,
            form,
            tenant_id=tenant_id,
            caller=None,
            action=lambda conn: (
                people.register(
                    MallUnitOfWork.joining(conn),
                    tenant_id,
                    email=email,
                    password=password,
                    display_name=forms.text_field(form, "display_name"),
                    invite_code=invite or None,
                    now=utc_now(),
                ).user_id
            ),
        )
    except DomainError as exc:
        return _register_error(request, tenant, form, exc)
    # The same answer whether the address was new or already had an account (no enumeration):
    # on to sign in, with the address filled in; nobody is signed in by registering.
    # After signing in, the new member lands on their page with the welcome.
    return rendering.redirect(
        f"/{tenant_id}/login?registered=1&next=" + quote(f"/{tenant_id}/me?welcome=1", safe="/")
    )


@router.get("/{tenant_id}/me")
def me_page(request: Request, tenant_id: str) -> Response:
    tenant = tenant_or_404(request, tenant_id)
    caller = sessions.need_member(request, tenant_id)
    with sessions.database(request).reading() as uow:
        user = people.me(uow, caller, tenant_id)
    invite_link = f"{request.base_url}{tenant_id}/register?invite={user.invite_code}"
    return render(
        request,
        "mall/me.html",
        {
            "tenant": tenant,
            "user": user,
            "invite_link": invite_link,
            "welcome": request.query_params.get("welcome") == "1",
        },
        caller=caller,
    )
