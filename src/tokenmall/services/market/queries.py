"""Reading the market: one's orders, an order."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tokenmall.adapters.db.market.store import OrderRow as OrderView
from tokenmall.adapters.db.market.store import TradeRow as TradeView
from tokenmall.domain.market import Code, MarketRefused, MarketState, Order, OrderKind
from tokenmall.domain.market.marketdata import Candle, Depth, candles, depth, volume_since
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg import registry

__all__ = ["MarketData", "OrderView", "TradeView", "data", "my_orders", "order"]


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
    for row in unit.market.open_orders_of_collection(tenant_id, collection_id):
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
