"""Carts, checkout, orders and their states, refunds, order settings and the due-order run."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, cast

from fastapi import APIRouter, Body, Depends, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import (
    cart,
    checkout_unit,
    order_clock,
    order_refunds,
    orders,
    tenant_config,
)
from tokenmall.services.mall import checkout as checkouts
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.payment_channels import ChannelsUnit
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.unit_of_work import UnitOfWork
from tokenmall.web import idempotent
from tokenmall.web.api.common import (
    After,
    Limit,
    ResourceId,
    TenantId,
    next_after,
    write,
    write_signed_in,
)
from tokenmall.web.api.payment_channels import order_gateway
from tokenmall.web.api.schemas_orders import (
    CancelIn,
    CartLineIn,
    CartLinePatch,
    CartOut,
    CheckoutIn,
    CheckoutOut,
    DueRunOut,
    OrderDetailOut,
    OrderEventOut,
    OrderOut,
    OrderPage,
    OrderSettingsIn,
    OrderSettingsOut,
    OrderStatus,
    PaymentOut,
    RefundDecidedOut,
    RefundDecisionIn,
    RefundOut,
    RefundRequestIn,
    ShipIn,
    refund_preview,
)
from tokenmall.web.deps import (
    Caller,
    Credential,
    Db,
    IdempotencyKey,
    sign_in_of,
    single_query_values,
)
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["orders"],
    dependencies=[Depends(single_query_values)],
)
WRITE = responses(*COMMON, 403, 409)


def _detail(view: orders.OrderView) -> OrderDetailOut:
    return OrderDetailOut(
        **OrderOut.of(view.order).model_dump(),
        history=[OrderEventOut.of(e) for e in view.history],
        payments=[PaymentOut.of(p) for p in view.payments],
        refunds=[RefundOut.of(r) for r in view.refunds],
    )


# --- cart ---


@router.get(
    "/cart",
    response_model=CartOut,
    summary="Your cart, priced now (consumers)",
    responses=responses(*COMMON, 403),
)
def get_cart(tenant_id: TenantId, caller: Caller, db: Db) -> CartOut:
    with db.read() as conn:
        return CartOut.of(cart.get_cart(MallUnitOfWork.joining(conn), caller, tenant_id))


@router.post(
    "/cart/lines",
    response_model=CartOut,
    summary="Put units of a SKU in your cart (added to its line if there is one)",
    responses=WRITE,
)
def add_cart_line(
    tenant_id: TenantId,
    payload: CartLineIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        found = cart.add_line(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            payload.sku_id,
            payload.quantity,
            utc_now(),
        )
        return CartOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.patch(
    "/cart/lines/{sku_id}",
    response_model=CartOut,
    summary="Change the quantity of a line of your cart",
    responses=WRITE,
)
def set_cart_line(
    tenant_id: TenantId,
    sku_id: ResourceId,
    payload: CartLinePatch,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        found = cart.set_line(
            MallUnitOfWork.joining(conn), caller, tenant_id, sku_id, payload.quantity, utc_now()
        )
        return CartOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.delete(
    "/cart/lines/{sku_id}",
    response_model=CartOut,
    summary="Take a line out of your cart",
    responses=WRITE,
)
def remove_cart_line(
    tenant_id: TenantId,
    sku_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        return CartOut.of(cart.remove_line(MallUnitOfWork.joining(conn), caller, tenant_id, sku_id))

    return write(request, db, caller, tenant_id, key, None, make)


# --- checkout and orders ---


@router.post(
    "/checkout",
    status_code=status.HTTP_201_CREATED,
    response_model=CheckoutOut,
    summary="Check out the cart (or the given lines): one order per merchant, stock reserved",
    responses=WRITE,
)
def checkout(
    tenant_id: TenantId,
    payload: CheckoutIn,
    request: Request,
    token: Credential,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    # The caller is signed in on the checkout's own connection (no read of its own first).
    lines = None if payload.lines is None else [(x.sku_id, x.quantity) for x in payload.lines]

    def make_with(uow: UnitOfWork, now: datetime, caller: Principal | None) -> CheckoutOut:
        # The tenant's channels, rights, parameters and order settings: one version read.
        uow = tenant_config.configured(uow, tenant_id)
        done = checkouts.checkout(
            uow,
            caller,
            tenant_id,
            lines=lines,
            payment_method=payload.payment_method,
            stable_amount=payload.stable_amount,
            gateway=order_gateway(request, tenant_id, uow=cast(ChannelsUnit, uow)),
            now=now,
            address_id=payload.address_id,
        )
        return CheckoutOut(
            checkout_id=done.checkout_id,
            orders=[OrderOut.of(o) for o in done.orders],
            payments=[PaymentOut.of(p) for p in done.payments.values()],
        )

    if lines and payload.payment_method == "money" and _planned(db):
        # Given lines paid with money: signed in, planned and written in one pipeline on one
        # connection (``checkout_unit``); any other checkout, or a key raced, the usual way.
        request_hash = idempotent.hash_of(request, payload)

        def made(uow: UnitOfWork, now: datetime, caller: Principal | None) -> tuple[int, str]:
            return 201, make_with(uow, now, caller).model_dump_json()

        sign_in = sign_in_of(request, token)
        outcome = checkout_unit.checkout(
            db,
            sign_in,
            tenant_id,
            key,
            request_hash,
            made,
            address_id=payload.address_id,
            sku_ids=[sku_id for sku_id, _ in lines],
        )
        if outcome is not None:
            return idempotent.response(outcome)

    def make(conn: Connection, caller: Principal | None) -> BaseModel:
        return make_with(MallUnitOfWork.joining(conn), utc_now(), caller)

    return write_signed_in(request, db, token, tenant_id, key, payload, make, status_code=201)


def _planned(db: Db) -> bool:
    """A checkout of given lines is planned, then written at once, on PostgreSQL (SQLite:
    one transaction a request, as it was)."""
    return db.engine.dialect.name == "postgresql"


@router.get(
    "/orders",
    response_model=OrderPage,
    summary="Orders: a consumer's own, a merchant's store's, all for an admin",
    responses=responses(*COMMON),
)
def list_orders(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    status: Annotated[OrderStatus | None, Query(description="Only orders in this state")] = None,
    after: After = None,
    limit: Limit = 50,
) -> OrderPage:
    with db.reading() as uow:
        found = orders.list_orders(uow, caller, tenant_id, status=status, after=after, limit=limit)
    return OrderPage(
        items=[OrderOut.of(o) for o in found],
        next_after=next_after([o.order_id for o in found], limit),
    )


@router.get(
    "/orders/{order_id}",
    response_model=OrderDetailOut,
    summary="One order with its status history, payments and refunds",
    responses=responses(*COMMON),
)
def get_order(tenant_id: TenantId, order_id: ResourceId, caller: Caller, db: Db) -> OrderDetailOut:
    with db.reading() as uow:
        return _detail(orders.get_order(uow, caller, tenant_id, order_id))


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderDetailOut,
    summary="Cancel an unpaid order (its buyer or an admin): stock and stable points return",
    responses=WRITE,
)
def cancel_order(
    tenant_id: TenantId,
    order_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[CancelIn | None, Body()] = None,
) -> Response:
    reason = None if payload is None else payload.reason

    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        gateway = order_gateway(request, tenant_id, uow=uow)
        order = orders.cancel(uow, caller, tenant_id, order_id, reason, utc_now(), gateway)
        return _detail(orders.view(uow, tenant_id, order))

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/orders/{order_id}/ship",
    response_model=OrderDetailOut,
    summary="Ship a paid order (its merchant or an admin)",
    responses=WRITE,
)
def ship_order(
    tenant_id: TenantId,
    order_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[ShipIn | None, Body()] = None,
) -> Response:
    carrier = None if payload is None else payload.carrier
    tracking = None if payload is None else payload.tracking_number

    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        order = orders.ship(
            uow,
            caller,
            tenant_id,
            order_id,
            carrier=carrier,
            tracking_number=tracking,
            now=utc_now(),
        )
        return _detail(orders.view(uow, tenant_id, order))

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/orders/{order_id}/confirm",
    response_model=OrderDetailOut,
    summary="Confirm receipt of a shipped order (its buyer); the return window starts",
    responses=WRITE,
)
def confirm_order(
    tenant_id: TenantId,
    order_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        order = orders.confirm_receipt(uow, caller, tenant_id, order_id, utc_now())
        return _detail(orders.view(uow, tenant_id, order))

    return write(request, db, caller, tenant_id, key, None, make)


@router.post(
    "/orders/{order_id}/refunds",
    status_code=status.HTTP_201_CREATED,
    response_model=RefundOut,
    summary="Ask for a refund of a paid, shipped or received order (its buyer or an admin)",
    responses=WRITE,
)
def request_refund(
    tenant_id: TenantId,
    order_id: ResourceId,
    payload: RefundRequestIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        refund = order_refunds.request_refund(
            MallUnitOfWork.joining(conn), caller, tenant_id, order_id, payload.reason, utc_now()
        )
        return RefundOut.of(refund)

    return write(request, db, caller, tenant_id, key, payload, make, status_code=201)


@router.post(
    "/orders/{order_id}/refunds/{refund_id}/approve",
    response_model=RefundDecidedOut,
    summary="Approve a refund: money back through the gateway, stable points back, stock back "
    "if unshipped (the merchant, or an admin; only an admin once rewards are booked)",
    responses=WRITE,
)
def approve_refund(
    tenant_id: TenantId,
    order_id: ResourceId,
    refund_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[RefundDecisionIn | None, Body()] = None,
) -> Response:
    note = None if payload is None else payload.note

    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        gateway = order_gateway(request, tenant_id, uow=uow)
        order, refund = order_refunds.approve_refund(
            uow,
            caller,
            tenant_id,
            order_id,
            refund_id,
            note=note,
            gateway=gateway,
            now=utc_now(),
        )
        return RefundDecidedOut(order=OrderOut.of(order), refund=RefundOut.of(refund))

    return write(request, db, caller, tenant_id, key, payload, make, status_of=refund_accepted)


def refund_accepted(body: BaseModel) -> int:
    """202 while the payment channel is still processing the refund, else 200."""
    assert isinstance(body, RefundDecidedOut)
    return 202 if body.refund.status == "processing" else 200


class RewardTakenOut(BaseModel):
    """What the refund takes back from one holder the order rewarded (level 0: the buyer)."""

    holder: str
    level: int
    points_granted: str
    points_burned: str
    points_gone: str
    debt_for_points_gone: str
    quota_removed: str
    quota_used_removed: str
    debt_for_dividends: str
    spend_removed: str
    debt: str


class RewardsReversalOut(BaseModel):
    order_ref: str
    buyer: str
    holders: list[RewardTakenOut]
    points_burned: str
    debt: str
    price_before: str
    price: str


class ClawbackOut(BaseModel):
    beneficiary: str
    level: int
    amount: str
    source: str  # "frozen": back to revenue; "cash_or_debt": from their cash, else a debt


class RefundPreviewOut(BaseModel):
    """Everything approving the refund would do now, figure by figure."""

    order_id: str
    refund_id: str
    money: str
    stable: str
    stock_back: bool
    rewards_booked: bool
    admin_only: bool
    rewards: RewardsReversalOut | None
    commissions: list[ClawbackOut]


@router.get(
    "/orders/{order_id}/refunds/{refund_id}/preview",
    response_model=RefundPreviewOut,
    summary="What approving the refund would do, figure by figure: money, stable points, stock, "
    "and for a booked order the points burned, quota removed, debts and commissions clawed back",
    responses=responses(*COMMON, 403, 409),
)
def preview_refund(
    tenant_id: TenantId, order_id: ResourceId, refund_id: ResourceId, caller: Caller, db: Db
) -> RefundPreviewOut:
    with db.reading() as uow:
        found = refund_preview(
            order_refunds.preview_refund(uow, caller, tenant_id, order_id, refund_id)
        )
    claws = [
        ClawbackOut(
            beneficiary=c["beneficiary"], level=c["level"], amount=c["amount"], source=c["source"]
        )
        for c in found["commissions"]
    ]
    rewards = found["rewards"]
    return RefundPreviewOut(
        **{k: v for k, v in found.items() if k not in ("rewards", "commissions")},
        rewards=None if rewards is None else RewardsReversalOut.model_validate(rewards),
        commissions=claws,
    )


@router.post(
    "/orders/{order_id}/refunds/{refund_id}/reject",
    response_model=RefundOut,
    summary="Reject a refund request (the merchant or an admin)",
    responses=WRITE,
)
def reject_refund(
    tenant_id: TenantId,
    order_id: ResourceId,
    refund_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[RefundDecisionIn | None, Body()] = None,
) -> Response:
    note = None if payload is None else payload.note

    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        refund = order_refunds.reject_refund(
            uow, caller, tenant_id, order_id, refund_id, note=note, now=utc_now()
        )
        return RefundOut.of(refund)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/orders/run-due",
    response_model=DueRunOut,
    summary="Cancel orders whose payment time ran out and complete those past their return "
    "window, now (admins; the scheduler does the same)",
    responses=WRITE,
)
def run_due(
    tenant_id: TenantId, request: Request, caller: Caller, db: Db, key: IdempotencyKey
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        gateway = order_gateway(request, tenant_id, uow=uow)
        done = order_clock.run_due(uow, caller, tenant_id, utc_now(), gateway)
        return DueRunOut(cancelled=done.cancelled, completed=done.completed)

    return write(request, db, caller, tenant_id, key, None, make)


# --- settings ---


@router.get(
    "/order-settings",
    response_model=OrderSettingsOut,
    summary="The tenant's return window, payment timeout and auto-confirmation (any member)",
    responses=responses(*COMMON),
)
def get_order_settings(tenant_id: TenantId, caller: Caller, db: Db) -> OrderSettingsOut:
    with db.reading() as uow:
        return OrderSettingsOut.of(orders.get_settings(uow, caller, tenant_id))


@router.patch(
    "/order-settings",
    response_model=OrderSettingsOut,
    summary="Change the order settings (admins); applies to every order from now on",
    responses=WRITE,
)
def update_order_settings(
    tenant_id: TenantId,
    payload: OrderSettingsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        found = orders.update_settings(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            return_window_days=payload.return_window_days,
            payment_timeout_minutes=payload.payment_timeout_minutes,
            auto_confirm_days=payload.auto_confirm_days,
            now=utc_now(),
        )
        return OrderSettingsOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)
