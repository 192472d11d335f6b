"""Helpers for the market's tests: a market set up in one call, and a snapshot of its whole
state to check that a refused action changed nothing."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest

from tokenmall.domain.market import Code, Market, MarketRefused, collection_rules


def market(
    profile: str = "open",
    *,
    editions: int = 10,
    price: int = 10_000,
    fee_rate: str = "0.02",
    royalty_rate: str = "0.05",
    **rules: Any,
) -> Market:
    """A market with collection ``c`` (issuer ``brand``) and nothing minted."""
    m = Market(profile)
    band = rules.pop("band", None)
    made = collection_rules(
        m.profile,
        fee_rate=Fraction(fee_rate),
        royalty_rate=Fraction(royalty_rate),
        band=None if band is None else Fraction(band),
        **rules,
    )
    m.add_collection("c", "brand", editions, price, made)
    return m


def days(m: Market, n: int, trading: bool = True) -> None:
    for _ in range(n):
        m.day(trading)


def snapshot(m: Market) -> Any:
    """Everything the market holds, as comparable values (books by their resting orders)."""
    s = m.state
    return (
        s.clock,
        {u: (a.cash, a.reserved, a.kyc) for u, a in s.accounts.items() if a != type(a)()},
        {
            k: (t.owner, t.state, t.acquired_day, t.acquired_trading_day)
            for k, t in s.tokens.items()
        },
        {
            i: (o.kind, o.user, o.price, o.token, o.to, o.status, o.expires_day)
            for i, o in s.orders.items()
        },
        {
            c: (x.minted, x.halted, x.last_price, x.reference, frozenset(x.holders))
            for c, x in s.collections.items()
        },
        {k: (h.bought, h.sold) for k, h in s.holds.items()},
        {
            c: ([o.id for o in b.open_asks()], [o.id for o in b.open_bids()])
            for c, b in s.books.items()
        },
        s.platform,
        dict(s.issuers),
        s.next_order_id,
    )


def refused(m: Market, code: Code, action: str, *args: Any) -> None:
    """``action`` is refused with ``code`` and nothing changes."""
    before = snapshot(m)
    with pytest.raises(MarketRefused) as caught:
        getattr(m, action)(*args)
    assert caught.value.code is code, caught.value
    assert snapshot(m) == before


def total_money(m: Market) -> int:
    s = m.state
    users = sum(a.cash + a.reserved for a in s.accounts.values())
    return users + s.platform + sum(s.issuers.values())
