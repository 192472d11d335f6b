"""Property tests of the open profile's order book: random streams of listings, bids, takes
and cancels on one collection keep price-time priority, never leave a crossed book resting,
conserve money (cash + reservations + fees + royalties = deposits), never make a balance
negative, keep each user's reservation equal to their open bids, and change nothing when
they refuse."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from market_kit import market, snapshot, total_money
from tokenmall.domain.market import Market, MarketRefused, OrderKind, OrderStatus
from tokenmall.domain.nfg.records import TokenState

USERS = ["u0", "u1", "u2", "u3"]
TOKENS = 12
OWNER = "(owner)"  # the token's owner at the time

PRICES = st.integers(97, 103)
ops = st.lists(
    st.one_of(
        st.tuples(st.just("list"), st.just(OWNER), st.integers(1, TOKENS), PRICES),
        st.tuples(st.just("list"), st.sampled_from(USERS), st.integers(1, TOKENS), PRICES),
        st.tuples(st.just("bid"), st.sampled_from(USERS), PRICES),
        st.tuples(st.just("take"), st.sampled_from(USERS), st.integers(1, 20)),
        st.tuples(st.just("cancel"), st.sampled_from(USERS), st.integers(1, 20)),
        st.tuples(st.just("gift"), st.just(OWNER), st.integers(1, TOKENS), st.sampled_from(USERS)),
        st.tuples(st.just("day")),
    ),
    max_size=80,
)


def setup() -> tuple[Market, int]:
    m = market("open", editions=TOKENS, price=100, fee_rate="0.03", royalty_rate="0.07")
    for i in range(TOKENS):
        m.mint("c", USERS[i % len(USERS)])
    deposits = 0
    for user in USERS:
        m.deposit(user, 1_000)
        deposits += 1_000
    return m, deposits


def open_orders(m: Market, kind: OrderKind) -> list[Any]:
    return [o for o in m.state.orders.values() if o.kind is kind and o.status is OrderStatus.OPEN]


def expected_match(m: Market, op: tuple[Any, ...]) -> int | None:
    """The resting order a brute force says a new order would meet first."""
    if op[0] == "list" and op[1] == OWNER:
        op = ("list", m.state.tokens[f"c/{op[2]}"].owner, *op[2:])
    if op[0] == "bid":
        asks = [o for o in open_orders(m, OrderKind.LISTING) if o.price <= op[2]]
        return min(asks, key=lambda o: (o.price, o.id)).id if asks else None
    if op[0] == "list":
        bids = [o for o in open_orders(m, OrderKind.BID) if o.price >= op[3]]
        return min(bids, key=lambda o: (-o.price, o.id)).id if bids else None
    return None


def apply(m: Market, op: tuple[Any, ...]) -> Any:
    kind = op[0]
    if kind in ("list", "gift") and op[1] == OWNER:
        op = (kind, m.state.tokens[f"c/{op[2]}"].owner, *op[2:])
    if kind == "list":
        return m.list(op[1], f"c/{op[2]}", op[3])
    if kind == "bid":
        return m.bid(op[1], "c", op[2])
    if kind == "take":
        return m.take(op[1], op[2])
    if kind == "cancel":
        return m.cancel(op[1], op[2])
    if kind == "gift":
        return m.gift(op[1], f"c/{op[2]}", op[3])
    return m.day()


def check_invariants(m: Market, deposits: int) -> None:
    s = m.state
    assert total_money(m) == deposits
    for user, acc in s.accounts.items():
        assert acc.cash >= 0
        assert acc.reserved >= 0
        assert acc.reserved == sum(o.price for o in open_orders(m, OrderKind.BID) if o.user == user)
    asks, bids = open_orders(m, OrderKind.LISTING), open_orders(m, OrderKind.BID)
    if asks and bids:
        assert max(o.price for o in bids) < min(o.price for o in asks)  # never crossed
    book = s.book("c")
    best_ask, best_bid = book.best_ask(), book.best_bid()
    assert best_ask == (min(asks, key=lambda o: (o.price, o.id)) if asks else None)
    assert best_bid == (min(bids, key=lambda o: (-o.price, o.id)) if bids else None)
    listed = {o.token for o in asks}
    for key, tok in s.tokens.items():
        assert (tok.state is TokenState.LISTED) == (key in listed)
    for o in asks:
        assert s.tokens[o.token].owner == o.user  # no stale listing


@settings(max_examples=150, deadline=None)
@given(ops)
def test_random_order_streams_keep_the_book_sound(stream: list[tuple[Any, ...]]) -> None:
    m, deposits = setup()
    for op in stream:
        expected = expected_match(m, op)
        before = snapshot(m)
        try:
            out = apply(m, op)
        except MarketRefused:
            assert snapshot(m) == before
        else:
            if op[0] in ("bid", "list"):
                if expected is None:
                    assert not out.trades
                else:
                    assert [t.order for t in out.trades] == [expected]
                    resting = m.state.orders[expected]
                    assert out.trades[0].price == resting.price  # the resting order's price
            for trade in out.trades:
                assert trade.fee == trade.price * 3 // 100
                assert trade.royalty == trade.price * 7 // 100
        check_invariants(m, deposits)


@settings(max_examples=50, deadline=None)
@given(ops)
def test_the_same_stream_gives_the_same_state(stream: list[tuple[Any, ...]]) -> None:
    runs = []
    for _ in range(2):
        m, _ = setup()
        for op in stream:
            with contextlib.suppress(MarketRefused):
                apply(m, op)
        runs.append(snapshot(m))
    assert runs[0] == runs[1]
