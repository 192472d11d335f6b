"""A refund of an order at the payment channel: read it, ask the channel, retry, abandon.

A refund the channel has not finished is ``processing`` (its approval answered 202); the
channel's refund callback or a query finishes it. A failed refund is retried (a new attempt,
a new number at the channel) or abandoned by an admin with a reason.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import orders, refund_channel
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import ResourceId, TenantId, write
from tokenmall.web.api.orders import refund_accepted
from tokenmall.web.api.payment_channels import order_gateway
from tokenmall.web.api.schemas_orders import (
    OrderOut,
    RefundAbandonIn,
    RefundDecidedOut,
    RefundOut,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["orders"],
    dependencies=[Depends(single_query_values)],
)
WRITE = responses(*COMMON, 403, 409)
PATH = "/orders/{order_id}/refunds/{refund_id}"


@router.get(
    PATH,
    response_model=RefundOut,
    summary="One refund of the order and how it stands at the payment channel",
    responses=responses(*COMMON, 403),
)
def get_refund(
    tenant_id: TenantId, order_id: ResourceId, refund_id: ResourceId, caller: Caller, db: Db
) -> RefundOut:
    with db.reading() as uow:
        view = orders.get_order(uow, caller, tenant_id, order_id)
    found = next((r for r in view.refunds if r.refund_id == refund_id), None)
    if found is None:
        raise NotFound(f"no refund {refund_id!r} of this order", "refund_id")
    return RefundOut.of(found)


@router.post(
    PATH + "/query",
    response_model=RefundOut,
    summary="Ask the payment channel about a refund still processing and apply its answer "
    "(booked once, as its callback would)",
    responses=WRITE,
)
def query_refund(
    tenant_id: TenantId,
    order_id: ResourceId,
    refund_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        gateway = order_gateway(request, tenant_id, uow=uow)
        refund = refund_channel.query_refund(
            uow, caller, tenant_id, order_id, refund_id, gateway=gateway, now=utc_now()
        )
        return RefundOut.of(refund)

    def status_of(body: BaseModel) -> int:
        assert isinstance(body, RefundOut)
        return 202 if body.status == "processing" else 200

    return write(request, db, caller, tenant_id, key, None, make, status_of=status_of)


@router.post(
    PATH + "/retry",
    response_model=RefundDecidedOut,
    summary="Try a failed refund again at the payment channel (the merchant, or an admin)",
    responses=WRITE,
)
def retry_refund(
    tenant_id: TenantId,
    order_id: ResourceId,
    refund_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        gateway = order_gateway(request, tenant_id, uow=uow)
        order, refund = refund_channel.retry_refund(
            uow, caller, tenant_id, order_id, refund_id, gateway=gateway, now=utc_now()
        )
        return RefundDecidedOut(order=OrderOut.of(order), refund=RefundOut.of(refund))

    return write(request, db, caller, tenant_id, key, None, make, status_of=refund_accepted)


@router.post(
    PATH + "/abandon",
    response_model=RefundOut,
    summary="Give up on a failed refund, with the reason (an admin): nothing is booked",
    responses=WRITE,
)
def abandon_refund(
    tenant_id: TenantId,
    order_id: ResourceId,
    refund_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[RefundAbandonIn, Body()],
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        refund = refund_channel.abandon_refund(
            uow, caller, tenant_id, order_id, refund_id, reason=payload.reason, now=utc_now()
        )
        return RefundOut.of(refund)

    return write(request, db, caller, tenant_id, key, payload, make)
