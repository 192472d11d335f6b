"""Reading the market: one's orders, an order."""

from __future__ import annotations

from tokenmall.adapters.db.market.store import OrderRow as OrderView
from tokenmall.domain.market import Code, MarketRefused
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg import registry

__all__ = ["OrderView", "my_orders", "order"]


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
