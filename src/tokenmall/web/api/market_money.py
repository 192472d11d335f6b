"""The market's money API (文交所): bids (求购), taking a listing (摘牌), accepting an
agreement (协议转让), one's trades, deposits of market cash through the gateway, and the
operator's trades (all, flagged by the wash-trade watch, CSV). Every write takes an
Idempotency-Key; every refusal is a 4xx whose ``code`` is market.md's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.domain.money import format_money
from tokenmall.services.mall import idempotency
from tokenmall.services.mall.auth import require
from tokenmall.services.mall.people import ADMIN
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.market import admin, batched, deposits, queries, trading
from tokenmall.services.market.orders import Placed
from tokenmall.web import idempotent
from tokenmall.web.api.common import TenantId, write
from tokenmall.web.api.log import Config
from tokenmall.web.api.market import READ, WRITE, OrderId, placed_once
from tokenmall.web.api.payments import gateway_for
from tokenmall.web.api.schemas_market import OrderOut
from tokenmall.web.api.schemas_market_money import (
    BidIn,
    DepositIn,
    DepositList,
    DepositOut,
    PlacedOut,
    TradeList,
    TradeOut,
    TradeReportOut,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, settings, single_query_values

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/market",
    tags=["Market"],
    dependencies=[Depends(single_query_values)],
)


def _trades(unit: MallUnitOfWork, tenant_id: str, placed: Placed) -> list[TradeOut]:
    found = (unit.market.trade(tenant_id, i) for i in placed.trades)
    return [TradeOut.of(t) for t in found if t is not None]


@router.post(
    "/orders/bid",
    response_model=PlacedOut,
    summary="Bid for any one token of a collection (求购): trades at once with the lowest "
    "listing at or below the price, else reserves the price from one's cash",
    responses=WRITE,
)
def bid(
    tenant_id: TenantId,
    payload: BidIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    """A bid that crosses a resting listing trades through the tenant's writer
    (``batched.place_batched``) unless group commit is off."""

    def placed_out(unit: MallUnitOfWork, placed: Placed) -> PlacedOut:
        assert placed.order_id is not None
        order = OrderOut.of(queries.order(unit, tenant_id, placed.order_id))
        return PlacedOut(order=order, trades=_trades(unit, tenant_id, placed))

    if settings(request).group_commit:
        price = admin.price_fen(payload.price)

        def place(unit: MallUnitOfWork, now: datetime, wait: bool) -> Placed:
            return trading.bid(
                unit, caller, tenant_id, payload.collection_id, price, now=now, config=config,
                valid_days=payload.valid_days, wait=wait,
            )  # fmt: skip

        return placed_once(
            request, db, caller, tenant_id, key, payload, (payload.collection_id, "bid", price),
            place, lambda unit, placed: placed_out(unit, placed).model_dump_json(),
        )  # fmt: skip

    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        placed = trading.bid(
            unit, caller, tenant_id, payload.collection_id, admin.price_fen(payload.price),
            now=utc_now(), config=config, valid_days=payload.valid_days,
        )  # fmt: skip
        return placed_out(unit, placed)

    return write(request, db, caller, tenant_id, key, payload, make)


def _trade_body(tenant_id: str) -> batched.Answer:
    """The answer of a settled trade: its one trade, as JSON."""

    def body(unit: MallUnitOfWork, placed: Placed) -> str:
        (trade,) = _trades(unit, tenant_id, placed)
        return trade.model_dump_json()

    return body


def _settle(action: str, summary: str) -> Callable[..., Response]:
    """The route of ``take`` or ``accept`` (the same shape, the domain's own action): settled
    through the tenant's writer (``batched``) unless group commit is off."""
    settle = trading.take if action == "take" else trading.accept

    @router.post(
        f"/orders/{{order_id}}/{action}", response_model=TradeOut, summary=summary,
        responses=WRITE, name=action,
    )  # fmt: skip
    def route(
        tenant_id: TenantId,
        order_id: OrderId,
        request: Request,
        caller: Caller,
        db: Db,
        key: IdempotencyKey,
        config: Config,
    ) -> Response:
        if settings(request).group_commit:
            once = batched.Once(
                key, idempotency.request_hash(request.method, request.url.path, None)
            )
            outcome = batched.settle_batched(
                db, caller, tenant_id, order_id, action,
                now=utc_now(), config=config, answer=_trade_body(tenant_id), once=once,
            )  # fmt: skip
            return idempotent.response(outcome)

        def make(conn: Connection) -> BaseModel:
            unit = MallUnitOfWork.joining(conn)
            placed = settle(unit, caller, tenant_id, order_id, now=utc_now(), config=config)
            (trade,) = _trades(unit, tenant_id, placed)
            return trade

        return write(request, db, caller, tenant_id, key, None, make)

    return route


take = _settle("take", "Take a listing at its price (摘牌): one trade, paid from one's cash")
accept = _settle(
    "accept", "Accept an agreement offered to oneself (协议转让): one trade at its price"
)


@router.get("/trades/mine", response_model=TradeList, summary="One's trades", responses=READ)
def my_trades(tenant_id: TenantId, caller: Caller, db: Db) -> TradeList:
    with db.reading() as unit:
        return TradeList(
            trades=[TradeOut.of(t) for t in queries.my_trades(unit, caller, tenant_id)]
        )


@router.get(
    "/admin/trades",
    response_model=TradeReportOut,
    summary="The operator's trades, newest first, with totals (flagged=true: the wash-trade "
    "watch's)",
    responses=READ,
)
def operator_trades(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    flagged: Annotated[bool | None, Query(description="Only flagged (or unflagged)")] = None,
) -> TradeReportOut:
    with db.reading() as unit:
        return TradeReportOut.of(queries.operator_trades(unit, caller, tenant_id, flagged))


@router.get(
    "/admin/trades/flagged",
    response_model=TradeReportOut,
    summary="Trades the wash-trade watch flagged (referral link or shared payment account)",
    responses=READ,
)
def flagged_trades(tenant_id: TenantId, caller: Caller, db: Db) -> TradeReportOut:
    with db.reading() as unit:
        return TradeReportOut.of(queries.operator_trades(unit, caller, tenant_id, True))


@router.get(
    "/admin/trades.csv",
    summary="Every trade as CSV (money as decimal strings)",
    responses=READ,
    response_class=Response,
)
def trades_csv(tenant_id: TenantId, caller: Caller, db: Db) -> Response:
    with db.reading() as unit:
        text = queries.trades_csv(unit, caller, tenant_id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="trades-{tenant_id}.csv"'},
    )


def _deposit_out(row: deposits.DepositRow, url: str | None = None) -> DepositOut:
    return DepositOut(
        deposit_id=row.deposit_id, amount=format_money(row.amount), status=row.status,
        redirect_url=url, created_at=row.created_at, paid_at=row.paid_at,
    )  # fmt: skip


@router.post(
    "/deposits",
    response_model=DepositOut,
    summary="Pay market cash in through the payment gateway: answers where to pay; the "
    "gateway's callback credits one's cash",
    responses=WRITE,
)
def deposit(
    tenant_id: TenantId,
    payload: DepositIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    gateway = gateway_for(request)

    def make(conn: Connection) -> BaseModel:
        unit = MallUnitOfWork.joining(conn)
        amount = admin.price_fen(payload.amount, "amount")
        started = deposits.start(unit, gateway, caller, tenant_id, amount, utc_now())
        return _deposit_out(started.deposit, started.redirect_url)

    return write(request, db, caller, tenant_id, key, payload, make)


@router.get("/deposits/mine", response_model=DepositList, summary="One's deposits", responses=READ)
def my_deposits(tenant_id: TenantId, caller: Caller, db: Db) -> DepositList:
    with db.reading() as unit:
        return DepositList(
            deposits=[_deposit_out(d) for d in deposits.mine(unit, caller, tenant_id)]
        )


class ExpiredOrdersOut(BaseModel):
    expired: int


@router.post(
    "/orders/expire-due",
    response_model=ExpiredOrdersOut,
    summary="The scheduler's tick (admins): expire orders past their valid days (bids return "
    "their cash, listings free their tokens)",
    responses=WRITE,
)
def expire_due(
    tenant_id: TenantId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    config: Config,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        require(caller, tenant_id, ADMIN)
        unit = MallUnitOfWork.joining(conn)
        return ExpiredOrdersOut(
            expired=trading.expire_due(unit, tenant_id, now=utc_now(), config=config)
        )

    return write(request, db, caller, tenant_id, key, None, make)
