"""The 文交所 market: secondary trading of NFG tokens under a compliance profile (market.md).

Pure and deterministic: ``Market`` applies one action to a ``MarketState`` and returns an
``Outcome`` of effects, or raises ``MarketRefused`` (a ``Code``) having changed nothing.
"""

from tokenmall.domain.market.calendar import Clock, TenantCalendar
from tokenmall.domain.market.effects import Outcome, Purse
from tokenmall.domain.market.market import Market
from tokenmall.domain.market.profiles import (
    PROFILES,
    CollectionRules,
    Profile,
    collection_rules,
    profile,
)
from tokenmall.domain.market.records import MarketState, Order, OrderKind, OrderStatus, Trade
from tokenmall.domain.market.refusals import Code, MarketRefused

__all__ = [
    "PROFILES",
    "Clock",
    "Code",
    "CollectionRules",
    "Market",
    "MarketRefused",
    "MarketState",
    "Order",
    "OrderKind",
    "OrderStatus",
    "Outcome",
    "Profile",
    "Purse",
    "TenantCalendar",
    "Trade",
    "collection_rules",
    "profile",
]
