"""The drop (首发) over HTTP: reserve places of a collection on sale, read a reservation (its
status, payment link and serials), pay it with points, and the scheduler's expiry tick.

Money reservations are paid on the gateway's page (the reservation's ``payment_url``); the
gateway's webhook is the payments' one (``web/api/payments.py``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Literal

from fastapi import APIRouter, Depends, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from tokenmall.domain.money import format_money, format_points
from tokenmall.domain.nfg.records import Collection, PriceAsset, Reservation
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.people import ADMIN
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.services.nfg import drop, drop_money, press_batch
from tokenmall.web import idempotent
from tokenmall.web.api.common import ResourceId, TenantId, write, write_signed_in
from tokenmall.web.api.log import Config
from tokenmall.web.api.payments import gateway_for
from tokenmall.web.deps import (
    Caller,
    Credential,
    Db,
    IdempotencyKey,
    settings,
    sign_in_of,
    single_query_values,
)
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/nfg",
    tags=["nfg drop"],
    dependencies=[Depends(single_query_values)],
)


def amount_text(asset: PriceAsset, amount: int) -> str:
    return format_points(amount) if asset == PriceAsset.EQUITY else format_money(amount)


class ReserveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    quantity: int = Field(description="Places to reserve (at least 1, at most the limit)")
    pay_with: Literal["money", "stable", "equity"] | None = Field(
        default=None, description="The collection's price asset (checked against it)"
    )


class TokenOut(BaseModel):
    token: str
    serial: int
    display: str


class ReservationOut(BaseModel):
    reservation_id: str
    collection_id: str
    user_id: str
    quantity: int
    amount: str
    asset: str
    status: Literal["reserved", "assigned", "expired", "refunded"]
    created_at: datetime
    expires_at: datetime
    payment_id: str | None
    payment_status: str
    payment_url: str | None
    serials: list[int]
    tokens: list[TokenOut]

    @classmethod
    def of(
        cls, reservation: Reservation, collection: Collection, gateway: Gateway
    ) -> ReservationOut:
        r = reservation
        return cls(
            reservation_id=r.reservation_id,
            collection_id=r.collection_id,
            user_id=r.user_id,
            quantity=r.quantity,
            amount=amount_text(r.asset, r.amount),
            asset=str(r.asset),
            status=r.status.value,
            created_at=r.created_at,
            expires_at=r.expires_at,
            payment_id=r.payment_id,
            payment_status=drop_money.payment_status(r),
            payment_url=drop_money.payment_link(gateway, r) if r.status == "reserved" else None,
            serials=list(r.serials),
            tokens=[
                TokenOut(
                    token=f"{r.collection_id}/{s}",
                    serial=s,
                    display=f"#{s}/{collection.edition_size}",
                )
                for s in r.serials
            ],
        )


class DropOut(BaseModel):
    collection_id: str
    name: str
    edition_size: int
    price: str
    price_asset: str
    per_user_limit: int
    sale_starts_at: datetime | None
    sale_ends_at: datetime | None
    on_sale: bool
    available: int
    minted: int
    allow_list_only: bool

    @classmethod
    def of(cls, c: Collection, now: datetime) -> DropOut:
        return cls(
            collection_id=c.collection_id,
            name=c.name,
            edition_size=c.edition_size,
            price=amount_text(c.price_asset, c.price),
            price_asset=str(c.price_asset),
            per_user_limit=c.per_user_limit,
            sale_starts_at=c.sale_starts_at,
            sale_ends_at=c.sale_ends_at,
            on_sale=c.on_sale(now),
            available=c.available,
            minted=c.minted,
            allow_list_only=c.allow_list_only,
        )


class ExpiredOut(BaseModel):
    expired: int


def hold(request: Request) -> timedelta:
    return timedelta(seconds=settings(request).nfg_reservation_seconds)


def reserve_in(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    payload: ReserveIn,
    gateway: Gateway,
    held: timedelta,
) -> ReservationOut:
    """Reserve inside the caller's transaction (the API's and the pages' shared step)."""
    reservation, collection = drop.reserve(
        unit,
        caller,
        tenant_id,
        collection_id,
        payload.quantity,
        payload.pay_with,
        utc_now(),
        hold=held,
    )
    return ReservationOut.of(reservation, collection, gateway)


@router.post(
    "/collections/{collection_id}/reservations",
    status_code=status.HTTP_201_CREATED,
    response_model=ReservationOut,
    summary="Reserve places of a drop on sale (buyers); pay before it expires",
    responses=responses(*COMMON, 403, 409),
)
async def reserve(
    tenant_id: TenantId,
    collection_id: ResourceId,
    payload: ReserveIn,
    request: Request,
    token: Credential,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    """With group commit (the default) the press joins its collection's next batch
    (``services/nfg/press_batch.py``: one transaction, a savepoint a press), awaited on the
    event loop: no worker thread waits for it. A press that left its batch (it would have
    waited for a lock), every press with ``TOKENMALL_GROUP_COMMIT=false``, and every press on
    SQLite (one writer at a time: lanes of batches would only poll for its lock) runs in a
    transaction of its own in a worker thread."""
    gateway, held = gateway_for(request), hold(request)
    if settings(request).group_commit and db.engine.dialect.name == "postgresql":
        one = press_batch.Press(
            tenant_id=tenant_id,
            collection_id=collection_id,
            sign_in=sign_in_of(request, token),
            key=key,
            request=idempotent.hash_of(request, payload),
            quantity=payload.quantity,
            pay_with=payload.pay_with,
            hold=held,
            answer=lambda r, c: ReservationOut.of(r, c, gateway).model_dump_json(),
        )
        try:
            future = press_batch.submit(db.engine, one)
            outcome = await asyncio.wait_for(asyncio.wrap_future(future), press_batch.WAIT_SECONDS)
            return idempotent.response(outcome)
        except press_batch.Alone:
            pass

    def make(conn: Connection, caller: Principal | None) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        return reserve_in(unit, caller, tenant_id, collection_id, payload, gateway, held)

    # The buyer is authenticated in the press's own transaction: one transaction a press.
    return await run_in_threadpool(
        write_signed_in, request, db, token, tenant_id, key, payload, make, status_code=201
    )


def read_reservation(
    db: Database, caller: Principal | None, tenant_id: str, reservation_id: str, gateway: Gateway
) -> ReservationOut:
    """The reservation (expired first if it is due: its places return to sale)."""
    now = utc_now()
    with db.reading() as unit:
        found = drop.visible(unit, caller, tenant_id, reservation_id)
        collection = drop.collection_of(unit, found)
    if found.status == "reserved" and now >= found.expires_at:
        with db.unit() as unit:
            found = drop.expire_if_due(unit, found, now)
    return ReservationOut.of(found, collection, gateway)


@router.get(
    "/reservations/{reservation_id}",
    response_model=ReservationOut,
    summary="A reservation: its status, payment link and serials (its buyer, admins)",
    responses=responses(*COMMON),
)
def get_reservation(
    tenant_id: TenantId, reservation_id: ResourceId, request: Request, caller: Caller, db: Db
) -> ReservationOut:
    return read_reservation(db, caller, tenant_id, reservation_id, gateway_for(request))


def pay_in(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    reservation_id: str,
    config: Config,
    gateway: Gateway,
) -> ReservationOut:
    paid = drop.pay_with_points(unit, caller, tenant_id, reservation_id, config, utc_now())
    return ReservationOut.of(paid, drop.collection_of(unit, paid), gateway)


@router.post(
    "/reservations/{reservation_id}/pay",
    response_model=ReservationOut,
    summary="Pay a stable- or equity-point reservation: its serials are assigned at once",
    responses=responses(*COMMON, 403, 409),
)
def pay(
    tenant_id: TenantId,
    reservation_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    gateway = gateway_for(request)

    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        return pay_in(unit, caller, tenant_id, reservation_id, config, gateway)

    return write(request, db, caller, tenant_id, key, None, make)


@router.get(
    "/drops/{collection_id}",
    response_model=DropOut,
    summary="A drop's figures: sale window, price, places left (public)",
    responses=responses(*COMMON),
)
def get_drop(tenant_id: TenantId, collection_id: ResourceId, db: Db) -> DropOut:
    with db.reading() as unit:
        found = unit.nfg.get_collection(tenant_id, collection_id)
    if found is None or found.status == "draft":
        raise NotFound(f"no collection {collection_id!r}")
    return DropOut.of(found, utc_now())


@router.post(
    "/reservations/expire-due",
    response_model=ExpiredOut,
    summary="The scheduler's tick (admins): expire unpaid reservations past their expiry",
    responses=responses(*COMMON, 403),
)
def expire_due(
    tenant_id: TenantId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        require(caller, tenant_id, ADMIN)
        unit = MallUnitOfWork.joining(conn)
        return ExpiredOut(expired=drop.expire_due(unit, utc_now(), tenant_id=tenant_id))

    return write(request, db, caller, tenant_id, key, None, make)
