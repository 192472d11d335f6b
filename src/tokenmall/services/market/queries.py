"""Reading the market: one's orders, an order, one's trades, the operator's trades and CSV."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timedelta

from tokenmall.adapters.db.market.store import OrderRow as OrderView
from tokenmall.adapters.db.market.trades import TradeRow as TradeView
from tokenmall.domain.mall.people import Scope
from tokenmall.domain.market import Code, MarketRefused, MarketState, Order, OrderKind
from tokenmall.domain.market.calendar import business_day, calendar_day
from tokenmall.domain.market.marketdata import Candle, Depth, candles, depth, volume_since
from tokenmall.domain.money import format_money
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.people import ADMIN
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg import registry

__all__ = [
    "MarketData",
    "OrderView",
    "TradeReport",
    "TradeView",
    "data",
    "my_orders",
    "my_trades",
    "operator_trades",
    "order",
    "trades_csv",
]


def my_orders(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, limit: int = 100
) -> list[OrderView]:
    who = require(caller, tenant_id, registry.EVERYONE)
    return unit.market.orders_of_user(tenant_id, who.subject_id, limit)


def order(unit: MallUnitOfWork, tenant_id: str, order_id: int) -> OrderView:
    found = unit.market.order(tenant_id, order_id)
    if found is None:
        raise MarketRefused(Code.NOT_FOUND, f"no order {order_id}", "order_id")
    return found


@dataclass(frozen=True, slots=True)
class MarketData:
    """One collection's market data (fen): floor (lowest listing), highest bid, last price,
    the last 24 hours' volume, daily candles (K线, by Beijing business day), holders, depth."""

    collection_id: str
    floor: int | None
    highest_bid: int | None
    last_price: int | None
    volume_24h: int
    candles: list[Candle]
    holders: int
    depth: Depth


def data(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, collection_id: str,
    now: datetime,
) -> MarketData:  # fmt: skip
    require(caller, tenant_id, registry.EVERYONE)
    registry.find(unit, tenant_id, collection_id)
    state = MarketState()
    live_on = calendar_day(business_day(now))  # an order past its days is not in the book
    for row in unit.market.open_orders_of_collection(tenant_id, collection_id, live_on):
        if row.kind == OrderKind.OFFER:
            continue  # agreements are private to their two sides
        state.add_order(
            Order(row.order_id, OrderKind(row.kind), row.user_id, row.collection_id, row.price)
        )
    book = state.book(collection_id)
    ask, bid = book.best_ask(), book.best_bid()
    trades = unit.market.trades(tenant_id, collection_id, limit=None)
    return MarketData(
        collection_id=collection_id,
        floor=None if ask is None else ask.price,
        highest_bid=None if bid is None else bid.price,
        last_price=trades[-1].price if trades else None,
        volume_24h=volume_since(
            ((t.created_at, t.price) for t in trades), now - timedelta(hours=24)
        ),
        candles=candles((t.business_day, t.price) for t in trades),
        holders=unit.market.holders_now(tenant_id, collection_id),
        depth=depth(book),
    )


# --- trades ---


def my_trades(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, limit: int = 200
) -> list[TradeView]:
    """One's trades, bought or sold, newest first."""
    who = require(caller, tenant_id, registry.EVERYONE)
    return unit.market.trades_of_user(tenant_id, who.subject_id, limit)


@dataclass(frozen=True, slots=True)
class TradeReport:
    """The operator's view: trades newest first, with the count and volume of all that match
    and of the flagged ones (the wash-trade watch)."""

    trades: list[TradeView]
    count: int
    volume: int
    flagged_count: int
    flagged_volume: int


def operator_trades(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    flagged: bool | None = None,
    limit: int | None = 1000,
    *,
    collection_id: str | None = None,
    before: int | None = None,
) -> TradeReport:
    """The trades matching ``flagged`` and ``collection_id`` (if given), newest first, from
    the one older than trade ``before`` (the next page); the totals count every match."""
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    market = unit.market
    count, volume = market.trade_totals(tenant_id, flagged=flagged, collection_id=collection_id)
    flagged_count, flagged_volume = market.trade_totals(
        tenant_id, flagged=True, collection_id=collection_id
    )
    found = market.trades_for_operator(
        tenant_id, flagged=flagged, limit=limit, collection_id=collection_id, before=before
    )
    return TradeReport(found, count, volume, flagged_count, flagged_volume)


CSV_COLUMNS = (
    "trade_id", "created_at", "business_day", "kind", "collection_id", "serial", "seller_id",
    "buyer_id", "issuer_id", "price", "fee", "royalty", "proceeds", "order_id",
    "taker_order_id", "journal_id", "flagged", "flag_reason",
)  # fmt: skip


def trades_csv(unit: MallUnitOfWork, caller: Principal | None, tenant_id: str) -> str:
    """Every trade of the tenant as CSV (money as decimal strings), oldest first."""
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for t in unit.market.trades(tenant_id, limit=None):
        writer.writerow(
            [
                t.trade_id, t.created_at.isoformat(), t.business_day.isoformat(), t.kind,
                t.collection_id, t.serial, t.seller_id, t.buyer_id, t.issuer_id,
                format_money(t.price), format_money(t.fee), format_money(t.royalty),
                format_money(t.proceeds), t.order_id, t.taker_order_id or "",
                t.journal_id or "", "yes" if t.flagged else "no", t.flag_reason or "",
            ]
        )  # fmt: skip
    return out.getvalue()
