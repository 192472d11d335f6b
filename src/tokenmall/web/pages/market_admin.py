"""The market's console pages (文交所, admin only): the tenant's profile (a change closes every
open order, so it asks for a confirmation naming how many), the trading calendar's holidays,
each collection's fee, royalty, price band, holds, holder limit and halt (停牌), and the
issuers' royalties (版税收入: accrued and paid, the latest payouts, a payout now).

They call the same use cases as the API (``services/market/admin.py``); the counts and the
effective rules come from ``services/market_pages.py``. Forms are plain POSTs answered by 303
(CSRF, a form key replayed through the idempotency store, one transaction); a refusal
re-renders the page with its sentence (``message_of``) next to the field at fault, and nothing
changed. The sections are the ``SECTIONS`` of the page (one ``which`` each), so a list of
trades or flagged trades is one more section and route.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData

from tokenmall.domain.errors import DomainError
from tokenmall.domain.market import PROFILES, Code, MarketRefused
from tokenmall.domain.nfg.records import CollectionStatus
from tokenmall.services import market_pages
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.market import admin, royalties
from tokenmall.services.nfg import registry
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages.admin import _staff
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.market import refusal_text, terms_view
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ADMIN = ("admin",)
PAGE = "market/admin.html"
COLLECTION_PAGE = "market/admin_collection.html"
SAVED = ("profile", "holiday", "collection", "halted", "resumed", "royalties")
PAYOUTS_SHOWN = 20
# Whole-number settings of a collection (empty: leave as it is).
WHOLE = ("hold_trading_days", "holder_limit", "gift_hold_days")

Context = Callable[[Connection, Principal], dict[str, Any]]
Action = Callable[[MallUnitOfWork, Principal, FormData], str]


def _market_context(tenant_id: str) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        unit = MallUnitOfWork.joining(conn)
        found = registry.listing(unit, caller, tenant_id, after=None, limit=200)
        collections = []
        for c in found:
            s = admin.collection_settings(unit, caller, tenant_id, c.collection_id)
            collections.append({"c": c, "s": s, "fee": admin.rate_text(s.fee_ppm),
                                "royalty": admin.rate_text(s.royalty_ppm)})  # fmt: skip
        earned = royalties.report(unit, caller, tenant_id, limit=PAYOUTS_SHOWN)
        return {
            "royalties": earned,
            "issuer_names": royalties.issuer_names(unit, tenant_id, earned),
            "settings": admin.settings(unit, caller, tenant_id),
            "profiles": list(PROFILES),
            "open_orders": market_pages.open_orders(unit, caller, tenant_id),
            "holidays": admin.holidays(unit, caller, tenant_id),
            "collections": collections,
            "published": CollectionStatus.PUBLISHED.value,
        }

    return context


def _collection_context(tenant_id: str, collection_id: str) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        unit = MallUnitOfWork.joining(conn)
        s = admin.collection_settings(unit, caller, tenant_id, collection_id)
        terms = market_pages.terms(unit, caller, tenant_id, collection_id, utc_now())
        return {
            "collection": registry.find(unit, tenant_id, collection_id),
            "s": s,
            "own": {
                "fee_rate": admin.rate_text(s.fee_ppm),
                "royalty_rate": admin.rate_text(s.royalty_ppm),
                "band": "" if s.band_ppm is None else admin.rate_text(s.band_ppm),
                **{n: "" if getattr(s, n) is None else str(getattr(s, n)) for n in WHOLE},
            },
            **terms_view(terms),
            "admin_view": True,
        }

    return context


def _show(
    request: Request,
    tenant_id: str,
    template: str,
    context: Context,
    form: FormState | None = None,
    code: int = 200,
    **extra: Any,
) -> Response:
    tenant, caller = _staff(request, tenant_id, ADMIN)
    with sessions.database(request).read() as conn:
        shown = context(conn, caller)
    saved = request.query_params.get("saved")
    page = {"tenant": tenant, **shown, "saved": saved if saved in SAVED else None, **extra}
    if form is not None:
        page["form"] = form
    return render(request, template, page, status_code=code, caller=caller)


async def _post(
    request: Request, tenant_id: str, template: str, context: Context, action: Action,
    form: FormData | None = None,
) -> Response:  # fmt: skip
    """CSRF, then ``action`` once per form key in one transaction; refused → the page again
    with the refusal's sentence next to the field at fault, nothing changed."""
    _, caller = _staff(request, tenant_id, ADMIN)
    if form is None:
        form = await forms.read_form(request)
    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(
            request,
            form,
            tenant_id=tenant_id,
            caller=caller,
            action=lambda conn: action(MallUnitOfWork.joining(conn), caller, form),
        )
    except DomainError as exc:
        state = FormState.of(form)
        state.errors[str(getattr(exc, "field", None) or "_form")] = refusal_text(request, exc)
        return _show(request, tenant_id, template, context, state, status_of(exc))
    return rendering.redirect(location)


@router.get("/{tenant_id}/admin/market")
def market_page(request: Request, tenant_id: str) -> Response:
    return _show(request, tenant_id, PAGE, _market_context(tenant_id))


@router.post("/{tenant_id}/admin/market/profile")
async def profile_post(request: Request, tenant_id: str) -> Response:
    """Choose the profile. A change that would close open orders first shows how many, with a
    form that confirms it (``confirm=1``); nothing changes until then."""
    _, caller = _staff(request, tenant_id, ADMIN)
    form = await forms.read_form(request)
    name = forms.text_field(form, "profile")
    kyc = forms.text_field(form, "kyc_required") == "true"
    if forms.text_field(form, "confirm") != "1":
        try:
            csrf.check_csrf(request, caller, form)
            with sessions.database(request).reading() as unit:
                current = admin.settings(unit, caller, tenant_id)
                closing = market_pages.open_orders(unit, caller, tenant_id)
        except DomainError as exc:
            state = FormState.of(form)
            state.errors[str(getattr(exc, "field", None) or "_form")] = refusal_text(request, exc)
            return _show(request, tenant_id, PAGE, _market_context(tenant_id), state,
                         status_of(exc))  # fmt: skip
        if name in PROFILES and name != current.profile and closing:
            confirm = {"profile": name, "kyc_required": kyc, "closing": closing}
            return _show(request, tenant_id, PAGE, _market_context(tenant_id), confirm=confirm)

    def act(unit: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        admin.set_profile(unit, caller, tenant_id, name, kyc, utc_now())
        return f"/{tenant_id}/admin/market?saved=profile"

    return await _post(request, tenant_id, PAGE, _market_context(tenant_id), act, form)


@router.post("/{tenant_id}/admin/market/holidays")
async def holiday_post(request: Request, tenant_id: str) -> Response:
    def act(unit: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        text = forms.text_field(form, "day").strip()
        try:
            day = date.fromisoformat(text)
        except ValueError:
            why = "day must be a date (YYYY-MM-DD)"
            raise MarketRefused(Code.INVALID_INPUT, why, "day") from None
        workday = forms.text_field(form, "workday") == "true"
        admin.set_holiday(unit, caller, tenant_id, day, workday)
        return f"/{tenant_id}/admin/market?saved=holiday"

    return await _post(request, tenant_id, PAGE, _market_context(tenant_id), act)


@router.post("/{tenant_id}/admin/market/royalties/payout")
async def royalties_post(request: Request, tenant_id: str) -> Response:
    """Pay each issuer its accrued royalties now (once a day; the scheduler does it daily)."""

    def act(unit: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        royalties.payout(unit, caller, tenant_id, utc_now())
        return f"/{tenant_id}/admin/market?saved=royalties"

    return await _post(request, tenant_id, PAGE, _market_context(tenant_id), act)


@router.get("/{tenant_id}/admin/market/collections/{collection_id}")
def collection_page(request: Request, tenant_id: str, collection_id: str) -> Response:
    return _show(request, tenant_id, COLLECTION_PAGE, _collection_context(tenant_id, collection_id))


def _whole(form: FormData, name: str) -> int | None:
    text = forms.text_field(form, name).strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise MarketRefused(Code.INVALID_INPUT, f"{name} must be a whole number", name)
    return int(text)


@router.post("/{tenant_id}/admin/market/collections/{collection_id}")
async def collection_post(request: Request, tenant_id: str, collection_id: str) -> Response:
    def act(unit: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        def rate(name: str) -> str | None:
            return forms.text_field(form, name).strip() or None

        change = admin.CollectionChange(
            fee_rate=rate("fee_rate"),
            royalty_rate=rate("royalty_rate"),
            band=rate("band"),
            hold_trading_days=_whole(form, "hold_trading_days"),
            holder_limit=_whole(form, "holder_limit"),
            gift_hold_days=_whole(form, "gift_hold_days"),
        )
        admin.set_collection(unit, caller, tenant_id, collection_id, change, utc_now())
        return f"/{tenant_id}/admin/market/collections/{collection_id}?saved=collection"

    context = _collection_context(tenant_id, collection_id)
    return await _post(request, tenant_id, COLLECTION_PAGE, context, act)


@router.post("/{tenant_id}/admin/market/collections/{collection_id}/halt")
async def halt_post(request: Request, tenant_id: str, collection_id: str) -> Response:
    def act(unit: MallUnitOfWork, caller: Principal, form: FormData) -> str:
        halted = forms.text_field(form, "halted") == "true"
        change = admin.CollectionChange(halted=halted)
        admin.set_collection(unit, caller, tenant_id, collection_id, change, utc_now())
        done = "halted" if halted else "resumed"
        return f"/{tenant_id}/admin/market/collections/{collection_id}?saved={done}"

    context = _collection_context(tenant_id, collection_id)
    return await _post(request, tenant_id, COLLECTION_PAGE, context, act)
