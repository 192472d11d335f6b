"""Random streams under ``cn-licensed`` (agreements, gifts, days, halts): no trade ever breaks
T+N in either direction, leaves the band, trades on a closed day or exceeds the holder limit;
money is conserved and a refusal changes nothing."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from market_kit import market, snapshot, total_money
from tokenmall.domain.market import Market, MarketRefused

USERS = ["u0", "u1", "u2", "u3", "u4"]
OWNER = "(owner)"
N = 5
LIMIT = 4

ops = st.lists(
    st.one_of(
        st.tuples(
            st.just("offer"), st.integers(1, 6), st.sampled_from(USERS), st.integers(85, 115)
        ),
        st.tuples(st.just("accept"), st.sampled_from([*USERS, OWNER, OWNER]), st.integers(0, 9)),
        st.tuples(st.just("gift"), st.integers(1, 6), st.sampled_from(USERS)),
        st.tuples(st.just("day"), st.booleans()),
        st.tuples(st.just("day"), st.just(True)),
        st.tuples(st.just("halt"), st.booleans(), st.booleans(), st.booleans()),
    ),
    max_size=60,
)


def setup() -> Market:
    m = market("cn-licensed", editions=6, price=100, holder_limit=LIMIT)
    for i, user in enumerate(USERS):
        if i < 4:
            m.verify(user)  # u4 never verifies
        m.deposit(user, 1_000)
    for serial in range(6):
        m.mint("c", USERS[serial % 3])
    for _ in range(N):
        m.day()
    return m


def apply(m: Market, op: tuple[Any, ...]) -> Any:
    if op[0] == "offer":
        key = f"c/{op[1]}"
        return m.offer(m.state.tokens[key].owner, key, op[2], op[3])
    if op[0] == "accept":  # the pick-th open agreement, by its named buyer (OWNER) or anyone
        offers = [o for o in m.state.orders.values() if o.status == "open"]
        order = offers[op[2] % len(offers)] if offers else None
        user = order.to if order is not None and op[1] == OWNER else op[1]
        return m.accept(str(user), order.id if order is not None else 999)
    if op[0] == "gift":
        key = f"c/{op[1]}"
        return m.gift(m.state.tokens[key].owner, key, op[2])
    if op[0] == "halt":  # halted a quarter of the time
        return m.halt("c", op[1] and op[2] and op[3])
    return m.day(op[1])


@settings(max_examples=120, deadline=None)
@given(ops)
def test_licensed_streams_keep_every_rule(stream: list[tuple[Any, ...]]) -> None:
    m = setup()
    deposits = total_money(m)
    bought: dict[str, int] = {u: 1 for u in USERS[:3]}  # minted on trading day 1
    sold: dict[str, int] = {}
    for op in stream:
        before = snapshot(m)
        reference = m.state.collections["c"].reference
        try:
            out = apply(m, op)
        except MarketRefused:
            assert snapshot(m) == before
            continue
        clock = m.state.clock
        for trade in out.trades:
            day = clock.trading_day
            assert clock.trading
            assert day >= bought.get(trade.seller, -N) + N
            assert day >= sold.get(trade.buyer, -N) + N
            assert reference * 9 <= trade.price * 10 <= reference * 11
            assert "u4" not in (trade.seller, trade.buyer)
            sold[trade.seller] = day
            bought[trade.buyer] = day
        assert len(m.state.collections["c"].holders) <= LIMIT
        assert total_money(m) == deposits
        assert all(a.cash >= 0 for a in m.state.accounts.values())
