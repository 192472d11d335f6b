"""Economy endpoints of a member: wallet, dividends, sell, convert, previews,
merchant redemption, leaderboard and price history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import wallet
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import ResourceId, TenantId, write
from tokenmall.web.api.schemas_wallet import (
    DividendDay,
    DividendsOut,
    LeaderboardEntry,
    LeaderboardOut,
    MerchantWalletOut,
    PointsIn,
    PriceHistoryOut,
    RedeemIn,
    RedeemOut,
    TradeOut,
    WalletOut,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["wallet"],
    dependencies=[Depends(single_query_values)],
)

Days = Annotated[int, Query(ge=1, le=366, description="How many days, newest last")]
PointsQuery = Annotated[
    str, Query(max_length=40, description='Points as a decimal string, such as "1.5"')
]


@router.get(
    "/wallet",
    response_model=WalletOut,
    summary="The caller's wallet, with what backs the price and the quota",
    responses=responses(*COMMON),
)
def my_wallet(tenant_id: TenantId, caller: Caller, db: Db) -> WalletOut:
    with db.reading() as uow:
        return WalletOut.of(wallet.wallet(uow, caller, tenant_id, utc_now()))


@router.get(
    "/users/{user_id}/wallet",
    response_model=WalletOut,
    summary="A user's wallet (admins)",
    responses=responses(*COMMON, 403),
)
def user_wallet(tenant_id: TenantId, user_id: ResourceId, caller: Caller, db: Db) -> WalletOut:
    with db.reading() as uow:
        return WalletOut.of(wallet.wallet(uow, caller, tenant_id, utc_now(), user_id))


@router.get(
    "/wallet/dividends",
    response_model=DividendsOut,
    summary="The caller's dividend day by day over the last settled days, newest first",
    responses=responses(*COMMON),
)
def my_dividends(tenant_id: TenantId, caller: Caller, db: Db, days: Days = 30) -> DividendsOut:
    with db.reading() as uow:
        found = wallet.dividends(uow, caller, tenant_id, days)
    return DividendsOut(items=[DividendDay.of(d) for d in found])


@router.get(
    "/users/{user_id}/wallet/dividends",
    response_model=DividendsOut,
    summary="A user's dividend day by day (admins)",
    responses=responses(*COMMON, 403),
)
def user_dividends(
    tenant_id: TenantId, user_id: ResourceId, caller: Caller, db: Db, days: Days = 30
) -> DividendsOut:
    with db.reading() as uow:
        found = wallet.dividends(uow, caller, tenant_id, days, user_id)
    return DividendsOut(items=[DividendDay.of(d) for d in found])


def _trade(
    kind: wallet.Kind,
    tenant_id: str,
    payload: PointsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: str,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        return TradeOut.of(wallet.execute(uow, caller, tenant_id, kind, payload.points))

    return write(request, db, caller, tenant_id, key, payload, make)


@router.post(
    "/wallet/sell",
    response_model=TradeOut,
    summary="Sell points back at the current price, after the fee (rule 2); cash received",
    responses=responses(*COMMON, 409),
)
def sell(
    tenant_id: TenantId,
    payload: PointsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    return _trade("sell", tenant_id, payload, request, caller, db, key)


@router.post(
    "/wallet/convert",
    response_model=TradeOut,
    summary="Convert points to stable points at the current price, after the fee (rule 3)",
    responses=responses(*COMMON, 409),
)
def convert(
    tenant_id: TenantId,
    payload: PointsIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    return _trade("convert", tenant_id, payload, request, caller, db, key)


@router.get(
    "/wallet/sell-preview",
    response_model=TradeOut,
    summary="What selling these points would pay now, and the fee (changes nothing)",
    responses=responses(*COMMON, 409),
)
def sell_preview(tenant_id: TenantId, points: PointsQuery, caller: Caller, db: Db) -> TradeOut:
    with db.reading() as uow:
        return TradeOut.of(wallet.preview(uow, caller, tenant_id, "sell", points))


@router.get(
    "/wallet/convert-preview",
    response_model=TradeOut,
    summary="What converting these points would give now, and the fee (changes nothing)",
    responses=responses(*COMMON, 409),
)
def convert_preview(tenant_id: TenantId, points: PointsQuery, caller: Caller, db: Db) -> TradeOut:
    with db.reading() as uow:
        return TradeOut.of(wallet.preview(uow, caller, tenant_id, "convert", points))


@router.post(
    "/merchants/{merchant_id}/redeem",
    response_model=RedeemOut,
    summary="Redeem a merchant's stable points for points at the current price (owner, admins)",
    responses=responses(*COMMON, 403, 409),
)
def redeem(
    tenant_id: TenantId,
    merchant_id: ResourceId,
    payload: RedeemIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        uow = MallUnitOfWork.joining(conn)
        return RedeemOut.of(wallet.redeem(uow, caller, tenant_id, merchant_id, payload.amount))

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get(
    "/merchants/{merchant_id}/wallet",
    response_model=MerchantWalletOut,
    summary="A merchant's stable points and points (owner, admins)",
    responses=responses(*COMMON, 403),
)
def merchant_wallet(
    tenant_id: TenantId, merchant_id: ResourceId, caller: Caller, db: Db
) -> MerchantWalletOut:
    with db.reading() as uow:
        return MerchantWalletOut.of(wallet.merchant_wallet(uow, caller, tenant_id, merchant_id))


@router.get(
    "/leaderboard",
    response_model=LeaderboardOut,
    summary="Top holders by points (display names only)",
    responses=responses(*COMMON),
)
def leaderboard(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
) -> LeaderboardOut:
    with db.reading() as uow:
        found = wallet.leaderboard(uow, caller, tenant_id, limit)
    return LeaderboardOut(items=[LeaderboardEntry.of(e) for e in found])


@router.get(
    "/economy/price-history",
    response_model=PriceHistoryOut,
    summary="Daily closing price (UTC days) and the current price",
    responses=responses(*COMMON),
)
def price_history(tenant_id: TenantId, caller: Caller, db: Db, days: Days = 30) -> PriceHistoryOut:
    with db.reading() as uow:
        return PriceHistoryOut.of(wallet.price_history(uow, caller, tenant_id, days, utc_now()))
