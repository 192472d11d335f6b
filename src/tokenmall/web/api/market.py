"""The market's API (文交所): the admin's profile, collection settings and holidays; the users'
orders (list, cancel, gift) and their own orders. Every write takes an Idempotency-Key; every
refusal is a 4xx whose ``code`` is market.md's (409 state, 422 input, 403 kyc/profile, 404)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.services.market import admin, batched, orders, queries
from tokenmall.services.market.orders import Placed
from tokenmall.web import idempotent
from tokenmall.web.api.common import TenantId, write
from tokenmall.web.api.log import Config
from tokenmall.web.api.schemas_market import (
    CollectionSettingsIn,
    CollectionSettingsOut,
    GiftIn,
    GiftOut,
    HolidayIn,
    HolidayOut,
    HolidaysOut,
    ListIn,
    MarketDataOut,
    OfferIn,
    OrderList,
    OrderOut,
    ProfileIn,
    ProfileOut,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, settings, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/market",
    tags=["Market"],
    dependencies=[Depends(single_query_values)],
)
READ = responses(*COMMON, 403)
WRITE = responses(*COMMON, 403, 409)
OrderId = Annotated[int, Path(ge=1, le=2**53, description="The order's id")]
CollectionId = Annotated[str, Path(max_length=40)]


def _collection_out(s: admin.CollectionSettings) -> CollectionSettingsOut:
    rate = admin.rate_text
    return CollectionSettingsOut(
        collection_id=s.collection_id,
        fee_rate=rate(s.fee_ppm),
        royalty_rate=rate(s.royalty_ppm),
        band=None if s.band_ppm is None else rate(s.band_ppm),
        hold_trading_days=s.hold_trading_days,
        holder_limit=s.holder_limit,
        gift_hold_days=s.gift_hold_days,
        halted=s.halted,
    )


def _holidays(found: list[tuple[object, bool]]) -> HolidaysOut:
    return HolidaysOut(
        holidays=[HolidayOut.model_validate({"day": d, "workday": w}) for d, w in found]
    )


# --- the admin's settings ---


@router.get("/settings", response_model=ProfileOut, summary="The market's profile", responses=READ)
def get_settings(tenant_id: TenantId, caller: Caller, db: Db) -> ProfileOut:
    with db.reading() as unit:
        found = admin.settings(unit, caller, tenant_id)
    return ProfileOut(profile=found.profile, kyc_required=found.kyc_required)


@router.post(
    "/settings",
    response_model=ProfileOut,
    summary="Choose the market's profile (closes every open order when it changes)",
    responses=WRITE,
)
def set_settings(
    tenant_id: TenantId,
    payload: ProfileIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        s = admin.set_profile(
            unit, caller, tenant_id, payload.profile, payload.kyc_required, utc_now()
        )
        return ProfileOut(profile=s.profile, kyc_required=s.kyc_required)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/collections/{collection_id}/settings",
    response_model=CollectionSettingsOut,
    summary="A collection's market settings",
    responses=READ,
)
def get_collection(
    tenant_id: TenantId, collection_id: CollectionId, caller: Caller, db: Db
) -> CollectionSettingsOut:
    with db.reading() as unit:
        return _collection_out(admin.collection_settings(unit, caller, tenant_id, collection_id))


@router.post(
    "/collections/{collection_id}/settings",
    response_model=CollectionSettingsOut,
    summary="Change a collection's fees, band, holds, holder limit or halt (停牌)",
    responses=WRITE,
)
def set_collection(
    tenant_id: TenantId,
    collection_id: CollectionId,
    payload: CollectionSettingsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        change = admin.CollectionChange(**payload.model_dump())
        s = admin.set_collection(unit, caller, tenant_id, collection_id, change, utc_now())
        return _collection_out(s)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get("/holidays", response_model=HolidaysOut, summary="The trading calendar", responses=READ)
def get_holidays(tenant_id: TenantId, caller: Caller, db: Db) -> HolidaysOut:
    with db.reading() as unit:
        return _holidays(list(admin.holidays(unit, caller, tenant_id)))


@router.post(
    "/holidays",
    response_model=HolidaysOut,
    summary="Close a day (a holiday) or open a weekend day (调休, workday true)",
    responses=WRITE,
)
def add_holiday(
    tenant_id: TenantId,
    payload: HolidayIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        found = admin.set_holiday(unit, caller, tenant_id, payload.day, payload.workday)
        return _holidays(list(found))

    return write(request, db, caller, tenant_id, key, payload, make)


# --- the users' orders ---


@router.post(
    "/orders/list",
    response_model=OrderOut,
    summary="List one's token for sale (挂单)",
    responses=WRITE,
)
def list_token(
    tenant_id: TenantId,
    payload: ListIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    """A listing that crosses a resting bid trades through the tenant's writer
    (``batched.place_batched``) unless group commit is off."""

    def order_of(unit: MallUnitOfWork, placed: Placed) -> OrderOut:
        assert placed.order_id is not None
        return OrderOut.of(queries.order(unit, tenant_id, placed.order_id))

    if settings(request).group_commit:
        price = admin.price_fen(payload.price)

        def place(unit: MallUnitOfWork, now: datetime, wait: bool) -> Placed:
            return orders.list_token(
                unit, caller, tenant_id, payload.collection_id, payload.serial, price,
                now=now, config=config, valid_days=payload.valid_days, wait=wait,
            )  # fmt: skip

        return placed_once(
            request, db, caller, tenant_id, key, payload, (payload.collection_id, "listing", price),
            place, lambda unit, placed: order_of(unit, placed).model_dump_json(),
        )  # fmt: skip

    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        placed = orders.list_token(
            unit, caller, tenant_id, payload.collection_id, payload.serial,
            admin.price_fen(payload.price), now=utc_now(), config=config,
            valid_days=payload.valid_days,
        )  # fmt: skip
        return order_of(unit, placed)

    return write(request, db, caller, tenant_id, key, payload, make)


def placed_once(
    request: Request, db: Database, caller: Principal | None, tenant_id: str, key: str,
    payload: BaseModel, crossing: tuple[str, str, int], place: batched.Place,
    answer: batched.Answer,
) -> Response:  # fmt: skip
    """A new order placed once per Idempotency-Key (the same key and request hash as
    ``write``), through the tenant's writer when it crosses the book."""
    body = payload.model_dump(mode="json")
    once = batched.Once(key, idempotency.request_hash(request.method, request.url.path, body))
    outcome = batched.place_batched(
        db, caller, tenant_id, crossing, place, now=utc_now(), answer=answer, once=once
    )
    return idempotent.response(outcome)


@router.post(
    "/orders/offer",
    response_model=OrderOut,
    summary="Offer one's token to a named buyer at a price (协议转让); they accept it",
    responses=WRITE,
)
def offer(
    tenant_id: TenantId,
    payload: OfferIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        placed = orders.offer(
            unit, caller, tenant_id, payload.collection_id, payload.serial, payload.to_user_id,
            admin.price_fen(payload.price), now=utc_now(), config=config,
            valid_days=payload.valid_days,
        )  # fmt: skip
        assert placed.order_id is not None
        return OrderOut.of(queries.order(unit, tenant_id, placed.order_id))

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=OrderOut,
    summary="Cancel one's open order",
    responses=WRITE,
)
def cancel(
    tenant_id: TenantId,
    order_id: OrderId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        orders.cancel(unit, caller, tenant_id, order_id, now=utc_now(), config=config)
        return OrderOut.of(queries.order(unit, tenant_id, order_id))

    return write(request, db, caller, tenant_id, key, None, make)


@router.post(
    "/gifts",
    response_model=GiftOut,
    summary="Give one's token (转赠) under the profile's rules; its open orders are cancelled",
    responses=WRITE,
)
def gift(
    tenant_id: TenantId,
    payload: GiftIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        orders.gift(
            unit, caller, tenant_id, payload.collection_id, payload.serial, payload.to_user_id,
            now=utc_now(), config=config,
        )  # fmt: skip
        return GiftOut(
            collection_id=payload.collection_id, serial=payload.serial, owner_id=payload.to_user_id
        )

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/orders/mine", response_model=OrderList, summary="One's own orders, newest first",
    responses=READ,
)  # fmt: skip
def my_orders(tenant_id: TenantId, caller: Caller, db: Db) -> OrderList:
    with db.reading() as unit:
        found = queries.my_orders(unit, caller, tenant_id)
    return OrderList(orders=[OrderOut.of(o) for o in found])


@router.get(
    "/collections/{collection_id}",
    response_model=MarketDataOut,
    summary="A collection's market data: floor, highest bid, last price, 24h volume, candles, "
    "holders, depth",
    responses=READ,
)
def market_data(
    tenant_id: TenantId, collection_id: CollectionId, caller: Caller, db: Db
) -> MarketDataOut:
    with db.reading() as unit:
        return MarketDataOut.of(queries.data(unit, caller, tenant_id, collection_id, utc_now()))
