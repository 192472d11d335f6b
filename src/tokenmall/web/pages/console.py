"""The admin console's operations pages: orders and refunds, order and withdrawal
settings, withdrawal approvals, settlement runs and their results, and the audit.

Every page reads and writes through the same use cases as the API (``services/mall/orders.py``,
``withdrawals.py``, ``settling.py``; the console's read models in ``services/console.py``), so
roles, validation, the ledger and tenant isolation are theirs. Forms are plain POSTs through
``forms.submit`` (CSRF, a form key in the idempotency store, one transaction); a refused form
re-renders its page with the status of the refusal and the message next to the field, and
nothing has changed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from fastapi import APIRouter, Request, Response
from sqlalchemy import Connection
from starlette.datastructures import FormData
from starlette.exceptions import HTTPException

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.orders import Order, OrderStatus
from tokenmall.domain.mall.withdrawals import WithdrawalStatus
from tokenmall.domain.money import format_money
from tokenmall.services import console as console_service
from tokenmall.services.mall import (
    catalogue,
    order_refunds,
    orders,
    payouts,
    people,
    settling,
    withdrawals,
)
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.payment_channels import order_gateway
from tokenmall.web.api.schemas_orders import refund_preview
from tokenmall.web.api.settlements import settlement_out
from tokenmall.web.errors import status_of
from tokenmall.web.pages import csrf, forms, rendering, sessions
from tokenmall.web.pages import payout_sending as payout_pages
from tokenmall.web.pages.admin import _staff, local_time
from tokenmall.web.pages.errors import PageRoute
from tokenmall.web.pages.forms import FormState
from tokenmall.web.pages.rendering import render

router = APIRouter(route_class=PageRoute, include_in_schema=False)

ADMIN = ("admin",)
# The order pages (list, order, ship, refund decisions) also open to merchants: the services
# show a merchant only their own merchant's orders (another's is a 404) and decide what they
# may do; every other console page stays admin-only.
ORDER_STAFF = ("admin", "merchant")
PAGE_SIZE = 50
ORDER_STATUSES = tuple(OrderStatus)
WITHDRAWAL_STATUSES = tuple(WithdrawalStatus)

Context = Callable[[Connection, Principal], dict[str, Any]]
Action = Callable[[Connection, Principal, FormData], str]


def _names(conn: Connection, caller: Principal, tenant_id: str) -> dict[str, str]:
    """Display names of the tenant's users and merchants, by id (for the lists)."""
    found: dict[str, str] = {}
    after = None
    while True:
        batch = people.list_users(MallUnitOfWork.joining(conn), caller, tenant_id, None, after, 200)
        for user in batch:
            found[user.user_id] = user.display_name or user.email
        if len(batch) < 200:
            break
        after = batch[-1].user_id
    for merchant in catalogue.list_merchants(
        MallUnitOfWork.joining(conn), caller, tenant_id, None, 200
    ):
        found[merchant.merchant_id] = merchant.name
    return found


async def _post(
    request: Request,
    tenant_id: str,
    template: str,
    context: Context,
    action: Action,
    roles: tuple[str, ...] = ADMIN,
) -> Response:
    """A console form: CSRF, once per form key, one transaction; refused → the page again with
    the message next to the field and nothing changed."""
    tenant, caller = _staff(request, tenant_id, roles)
    form = await forms.read_form(request)
    try:
        csrf.check_csrf(request, caller, form)
        location = forms.submit(
            request,
            form,
            tenant_id=tenant_id,
            caller=caller,
            action=lambda conn: action(conn, caller, form),
        )
    except DomainError as exc:
        with sessions.database(request).read() as conn:
            shown = context(conn, caller)
        return render(
            request,
            template,
            {
                "tenant": tenant,
                **shown,
                "form": FormState.of(form, exc),
                "local_time": local_time,
            },
            status_code=status_of(exc),
            caller=caller,
        )
    return rendering.redirect(location)


def _page(
    request: Request,
    tenant_id: str,
    template: str,
    context: Context,
    roles: tuple[str, ...] = ADMIN,
    **extra: Any,
) -> Response:
    tenant, caller = _staff(request, tenant_id, roles)
    with sessions.database(request).read() as conn:
        shown = context(conn, caller)
    return render(
        request,
        template,
        {"tenant": tenant, **shown, **extra, "local_time": local_time},
        caller=caller,
    )


def _optional_text(form: FormData, name: str) -> str | None:
    text = forms.text_field(form, name).strip()
    return text or None


# --- orders and refunds ---------------------------------------------------------------------


def _order_names(
    conn: Connection, caller: Principal, tenant_id: str, shown: Iterable[Order]
) -> dict[str, str]:
    """Names for the order pages: an admin's are everyone's; a merchant sees its own shop's
    name and the display names of the buyers of the orders shown (never their emails)."""
    if caller.role == "admin":
        return _names(conn, caller, tenant_id)
    return console_service.shop_and_buyer_names(conn, tenant_id, shown)


def _orders_context(
    request: Request, tenant_id: str
) -> Callable[[Connection, Principal], dict[str, Any]]:
    status = request.query_params.get("status") or None
    after = request.query_params.get("after") or None
    if status is not None and status not in ORDER_STATUSES:
        raise InvalidInput(f"unknown order status {status!r}", "status")

    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        found = orders.list_orders(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            status=status,
            after=after,
            limit=PAGE_SIZE + 1,
        )
        return {
            "orders": found[:PAGE_SIZE],
            "next_after": found[PAGE_SIZE - 1].order_id if len(found) > PAGE_SIZE else None,
            "status": status,
            "statuses": ORDER_STATUSES,
            "refunds": console_service.requested_refunds(conn, caller, tenant_id),
            "names": _order_names(conn, caller, tenant_id, found[:PAGE_SIZE]),
        }

    return context


@router.get("/{tenant_id}/admin/orders")
def orders_page(request: Request, tenant_id: str) -> Response:
    return _page(
        request,
        tenant_id,
        "admin/orders.html",
        _orders_context(request, tenant_id),
        roles=ORDER_STAFF,
    )


def _order_context(tenant_id: str, order_id: str) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        uow = MallUnitOfWork.joining(conn)
        shown = orders.get_order(uow, caller, tenant_id, order_id)
        return {
            "view": shown,
            "order": shown.order,
            "names": _order_names(conn, caller, tenant_id, [shown.order]),
            "settings": orders.get_settings(uow, caller, tenant_id),
            "previews": _refund_previews(uow, caller, tenant_id, shown),
        }

    return context


async def order_post(request: Request, tenant_id: str, order_id: str, act: Action) -> Response:
    """A form on an order's page (ship, cancel, a refund's actions): the order's staff, and the
    order's page again with the message when refused."""
    return await _post(
        request,
        tenant_id,
        "admin/order.html",
        _order_context(tenant_id, order_id),
        act,
        roles=ORDER_STAFF,
    )


def _refund_previews(
    uow: MallUnitOfWork, caller: Principal, tenant_id: str, shown: orders.OrderView
) -> dict[str, dict[str, Any]]:
    """What approving each requested refund would do, for the page to show before approval."""
    out: dict[str, dict[str, Any]] = {}
    for r in shown.refunds:
        if r.status == "requested":
            try:
                out[r.refund_id] = refund_preview(
                    order_refunds.preview_refund(
                        uow, caller, tenant_id, shown.order.order_id, r.refund_id
                    )
                )
            except DomainError:
                continue
    return out


_ORDER_FLASHES = (
    "shipped",
    "approved",
    "rejected",
    "cancelled",
    "refund_processing",
    "refund_failed",
    "refund_abandoned",
)


@router.get("/{tenant_id}/admin/orders/{order_id}")
def order_page(request: Request, tenant_id: str, order_id: str) -> Response:
    done = request.query_params.get("done")
    return _page(
        request,
        tenant_id,
        "admin/order.html",
        _order_context(tenant_id, order_id),
        roles=ORDER_STAFF,
        done=done if done in _ORDER_FLASHES else None,
    )


@router.post("/{tenant_id}/admin/orders/{order_id}/ship")
async def order_ship(request: Request, tenant_id: str, order_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        orders.ship(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            order_id,
            carrier=_optional_text(form, "carrier"),
            tracking_number=_optional_text(form, "tracking_number"),
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/orders/{order_id}?done=shipped"

    return await order_post(request, tenant_id, order_id, act)


@router.post("/{tenant_id}/admin/orders/{order_id}/cancel")
async def order_cancel(request: Request, tenant_id: str, order_id: str) -> Response:
    """Cancel an order from the console: a redemption's before it ships (its token goes back to
    its owner), or an unpaid one (an admin)."""

    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        uow = MallUnitOfWork.joining(conn)
        reason = _optional_text(form, "reason")
        gateway = order_gateway(request, tenant_id, uow=uow)
        orders.cancel(uow, caller, tenant_id, order_id, reason, utc_now(), gateway)
        return f"/{tenant_id}/admin/orders/{order_id}?done=cancelled"

    return await order_post(request, tenant_id, order_id, act)


# --- settings: orders and withdrawals -------------------------------------------------------


def _settings_context(tenant_id: str) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        uow = MallUnitOfWork.joining(conn)
        found = withdrawals.get_settings(uow, caller, tenant_id)
        return {
            "order_settings": orders.get_settings(uow, caller, tenant_id),
            "withdrawal_settings": found,
            "min_amount": format_money(found.min_amount_fen),
            "threshold": format_money(found.two_approver_threshold_fen),
        }

    return context


@router.get("/{tenant_id}/admin/settings")
def settings_page(request: Request, tenant_id: str) -> Response:
    saved = request.query_params.get("saved")
    return _page(
        request,
        tenant_id,
        "admin/settings.html",
        _settings_context(tenant_id),
        saved=saved if saved in ("orders", "withdrawals") else None,
    )


def _whole_or_none(form: FormData, name: str) -> int | None:
    text = forms.text_field(form, name).strip()
    if not text:
        return None
    if not text.isascii() or not text.isdigit() or len(text) > 9:
        raise InvalidInput(f"{name} must be a whole number", name)
    return int(text)


@router.post("/{tenant_id}/admin/settings/orders")
async def order_settings_post(request: Request, tenant_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        orders.update_settings(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            return_window_days=_whole_or_none(form, "return_window_days"),
            payment_timeout_minutes=_whole_or_none(form, "payment_timeout_minutes"),
            auto_confirm_days=_whole_or_none(form, "auto_confirm_days"),
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/settings?saved=orders"

    return await _post(request, tenant_id, "admin/settings.html", _settings_context(tenant_id), act)


@router.post("/{tenant_id}/admin/settings/withdrawals")
async def withdrawal_settings_post(request: Request, tenant_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        kyc = forms.text_field(form, "requires_kyc").strip()
        if kyc not in ("true", "false", ""):
            raise InvalidInput("must be true or false", "requires_kyc")
        withdrawals.update_settings(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            requires_kyc=None if not kyc else kyc == "true",
            min_amount=_optional_text(form, "min_amount"),
            two_approver_threshold=_optional_text(form, "two_approver_threshold"),
            now=utc_now(),
        )
        return f"/{tenant_id}/admin/settings?saved=withdrawals"

    return await _post(request, tenant_id, "admin/settings.html", _settings_context(tenant_id), act)


# --- withdrawal approvals -------------------------------------------------------------------


def _withdrawals_context(request: Request, tenant_id: str) -> Context:
    status = request.query_params.get("status", "pending") or None
    if status == "all":
        status = None
    if status is not None and status not in WITHDRAWAL_STATUSES:
        raise InvalidInput(f"unknown withdrawal status {status!r}", "status")
    after = request.query_params.get("after") or None

    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        uow = MallUnitOfWork.joining(conn)
        found = withdrawals.list_withdrawals(
            uow, caller, tenant_id, status=status, user_id=None, after=after, limit=PAGE_SIZE + 1
        )
        return {
            "withdrawals": found[:PAGE_SIZE],
            "next_after": found[PAGE_SIZE - 1].withdrawal_id if len(found) > PAGE_SIZE else None,
            "status": status or "all",
            "statuses": (*WITHDRAWAL_STATUSES, "all"),
            "settings": withdrawals.get_settings(uow, caller, tenant_id),
            "names": _names(conn, caller, tenant_id),
        }

    return context


@router.get("/{tenant_id}/admin/withdrawals")
def withdrawals_page(request: Request, tenant_id: str) -> Response:
    done = request.query_params.get("done")
    return _page(
        request,
        tenant_id,
        "admin/withdrawals.html",
        _withdrawals_context(request, tenant_id),
        done=done if done in ("approved", "paid", "paying", "rejected") else None,
    )


@router.post("/{tenant_id}/admin/withdrawals/{withdrawal_id}/{decision}")
async def withdrawal_decide(
    request: Request, tenant_id: str, withdrawal_id: str, decision: str
) -> Response:
    if decision not in ("approve", "reject"):
        raise HTTPException(404)
    channel = payout_pages.through_channel(request, tenant_id)
    planned: list[str] = []

    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        now = utc_now()
        uow = MallUnitOfWork.joining(conn)
        if decision == "approve":
            done = withdrawals.approve(
                uow,
                caller,
                tenant_id,
                withdrawal_id,
                now,
                through_channel=channel,
                manual_reference=_optional_text(form, "reference"),
            )
            outcome = done.status if done.status in ("paid", "paying") else "approved"
            made = payouts.payout_of(uow, tenant_id, withdrawal_id)
            if done.status == "paying" and made is not None:
                planned.append(made.payout_id)
        else:
            reason = forms.text_field(form, "reason").strip()
            if not reason:
                raise InvalidInput("give the reason for refusing the withdrawal", "reason")
            withdrawals.reject(uow, caller, tenant_id, withdrawal_id, reason, now)
            outcome = "rejected"
        return f"/{tenant_id}/admin/withdrawals?done={outcome}"

    answer = await _post(
        request,
        tenant_id,
        "admin/withdrawals.html",
        _withdrawals_context(request, tenant_id),
        act,
    )
    for payout_id in planned:  # after the approval committed: the channel is asked outside it
        payout_pages.send_payout(request, tenant_id, payout_id)
    return answer


# --- settlements ----------------------------------------------------------------------------


def _settlements_context(tenant_id: str) -> Context:
    def context(conn: Connection, caller: Principal) -> dict[str, Any]:
        now = utc_now()
        return {
            "days": [
                settlement_out(day, None).model_dump()
                for day in console_service.settled_days(
                    MallUnitOfWork.joining(conn), caller, tenant_id
                )[:120]
            ],
            "latest": settling.yesterday(now).isoformat(),
        }

    return context


@router.get("/{tenant_id}/admin/settlements")
def settlements_page(request: Request, tenant_id: str) -> Response:
    settled = request.query_params.get("settled")
    context = _settlements_context(tenant_id)
    return _page(
        request,
        tenant_id,
        "admin/settlements.html",
        context,
        settled=settled,
        form=FormState({"business_date": settling.yesterday(utc_now()).isoformat()}),
    )


@router.post("/{tenant_id}/admin/settlements")
async def settlement_run(request: Request, tenant_id: str) -> Response:
    def act(conn: Connection, caller: Principal, form: FormData) -> str:
        text = forms.text_field(form, "business_date").strip()
        uow = MallUnitOfWork.joining(conn)
        done = settling.settle_for_admin(uow, caller, tenant_id, text, utc_now())
        fresh = "1" if done.settled_now else "0"
        return (
            f"/{tenant_id}/admin/settlements?settled={done.business_date.isoformat()}&now={fresh}"
        )

    return await _post(
        request, tenant_id, "admin/settlements.html", _settlements_context(tenant_id), act
    )


# --- audit ----------------------------------------------------------------------------------


@router.get("/{tenant_id}/admin/audit")
def audit_page(request: Request, tenant_id: str) -> Response:
    tenant, caller = _staff(request, tenant_id, ADMIN)
    started = time.perf_counter()
    (found,) = console_service.audit(sessions.database(request), tenant_id)
    took = (time.perf_counter() - started) * 1000
    return render(
        request,
        "admin/audit.html",
        {
            "tenant": tenant,
            "audit": found,
            "took_ms": int(took),
            "at": utc_now(),
            "local_time": local_time,
        },
        caller=caller,
    )


__all__ = ["router"]
