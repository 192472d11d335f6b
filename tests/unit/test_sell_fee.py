"""Rule 2's fee goes to the dividend pool (``sell_fee_to``): selling in pieces gains nothing.

With the fee kept in the backing pool, each piece's fee raises the price of the pieces still
held, so a large holder who sells in pieces takes most of their own fee back from the other
holders. With the fee in the dividend pool the backing pool gives up each piece's whole value,
``floor(q × p)``: the price stays where it was (up to the sub-fen remainder the floor leaves),
and the pieces fetch what the whole would have, less the floors.
"""

from __future__ import annotations

import copy
from fractions import Fraction
from math import ceil, floor

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tokenmall.domain.economy import DEFAULT, SEED, Economy, Params
from tokenmall.domain.economy.market import SellResult
from tokenmall.domain.errors import InvalidAmount, InvalidParameter

NO_REFERRALS = SEED.updated({"referral_rates": []})


def big_holder(params: Params) -> Economy:
    """A bought 1,000.00 (210 points), B 100.00 (14.7 points): A holds 93.5 % of the points."""
    economy = Economy(params)
    economy.purchase("A", 1000_00)
    economy.purchase("B", 100_00)
    return economy


def sell_in_pieces(economy: Economy, user: str, pieces: int) -> int:
    """Sell all of ``user``'s points in ``pieces`` equal pieces (the last takes the rest)."""
    held = economy.holder(user).points
    piece = held // pieces
    total = 0
    for i in range(pieces):
        units = piece if i < pieces - 1 else held - piece * (pieces - 1)
        total += economy.sell(user, units).payout
    return total


@pytest.mark.parametrize("preset", [DEFAULT, NO_REFERRALS])
def test_a_big_holder_gains_nothing_by_selling_in_pieces(preset: Params) -> None:
    # Given A holding 210 of 224.7 points, with the fee to the dividend pool (the default)
    assert preset.sell_fee_to == "dividend_pool"
    whole = big_holder(preset)
    pieces = big_holder(preset)
    # When A sells everything at once, or in 40 pieces
    at_once = whole.sell("A", whole.holder("A").points).payout
    in_pieces = sell_in_pieces(pieces, "A", 40)
    # Then one sale pays 277.57 and the 40 pieces pay less, not 301.15
    assert at_once == 277_57
    assert in_pieces == 277_28
    assert in_pieces <= at_once
    # and the fees went to the dividend pool, the price did not move (B's points are backed as
    # before, up to a fen)
    for economy in (whole, pieces):
        assert economy.state.circulating == 1_470_000_000  # B's 14.7 points
        assert 21_58 <= economy.state.pool <= 21_60  # 14.7 × 1.46875 = 21.59
        assert economy.violations() == []


def test_with_the_fee_in_the_backing_pool_pieces_take_the_fee_back() -> None:
    # The old rule, still available as sell_fee_to = backing_pool: the 40 pieces pay 301.15
    # against 277.57 at once, taking back most of A's own fee from B.
    params = NO_REFERRALS.updated({"sell_fee_to": "backing_pool"})
    whole = big_holder(params)
    assert whole.sell("A", whole.holder("A").points).payout == 277_57
    assert sell_in_pieces(big_holder(params), "A", 40) == 301_15


@pytest.mark.parametrize("value", ["dividend", "pool", "", "BACKING_POOL"])
def test_sell_fee_to_accepts_only_the_two_pools(value: str) -> None:
    with pytest.raises(InvalidParameter) as refused:
        DEFAULT.updated({"sell_fee_to": value})
    assert refused.value.field == "sell_fee_to"


def test_sell_fee_to_is_a_public_parameter() -> None:
    assert DEFAULT.to_public()["sell_fee_to"] == "dividend_pool"
    assert SEED.to_public()["sell_fee_to"] == "dividend_pool"
    changed = DEFAULT.updated({"sell_fee_to": "backing_pool"})
    assert changed.to_public()["sell_fee_to"] == "backing_pool"
    assert DEFAULT.updated(changed.to_public()) == changed


# -- properties --------------------------------------------------------------------------------

FEE = st.sampled_from(["0", "0.01", "0.1", "0.33", "0.5", "1"])
PURCHASES = st.lists(
    st.tuples(st.sampled_from(["s", "o1", "o2"]), st.integers(1, 1_000_000_00)),
    min_size=1,
    max_size=6,
)
# Pieces as weights of the seller's holding: 1 to 40 of them.
PIECES = st.lists(st.integers(1, 1000), min_size=1, max_size=40)


def history(purchases: list[tuple[str, int]], fee: str, fee_to: str) -> Economy:
    economy = Economy(DEFAULT.updated({"sell_fee_rate": fee, "sell_fee_to": fee_to}))
    for user, amount in purchases:
        economy.purchase(user, amount)
    return economy


def split(held: int, weights: list[int]) -> list[int]:
    """``held`` units in pieces proportional to ``weights`` (the last takes the rest)."""
    total = sum(weights)
    pieces = [held * w // total for w in weights[:-1]]
    pieces.append(held - sum(pieces))
    return [p for p in pieces if p > 0]


def residue(result: SellResult) -> Fraction:
    """What the floor of ``q × p`` left in the backing pool, below a fen."""
    num, den = result.gross
    return Fraction(num % den, den)


@settings(max_examples=300, deadline=None)
@given(purchases=PURCHASES, fee=FEE, weights=PIECES)
def test_splitting_a_sale_never_pays_more_than_selling_it_whole(
    purchases: list[tuple[str, int]], fee: str, weights: list[int]
) -> None:
    economy = history(purchases, fee, "dividend_pool")
    held = economy.holder("s").points
    assume(held > 0)
    whole = copy.deepcopy(economy)
    try:
        at_once = whole.sell("s", held)
    except InvalidAmount:  # worth less than a fen after the fee: every piece is too
        return
    paid = 0
    results: list[SellResult] = []
    carried = 0
    for units in split(held, weights):
        try:
            result = economy.sell("s", units + carried)
        except InvalidAmount:  # a piece worth less than a fen is refused: add it to the next
            carried += units
            continue
        carried = 0
        results.append(result)
        paid += result.payout
    # The backing pool never gives up more for the pieces than for the whole, so the price
    # after the pieces is at least the price after the whole sale
    sold = held - carried
    assert economy.state.circulating == whole.state.circulating + carried
    if carried == 0:
        assert economy.state.pool >= whole.state.pool
    # The pieces pay what the whole pays, less the floors, except that a piece can fetch back
    # part of the sub-fen remainders the seller's own earlier pieces left in the pool: never a
    # whole fen more per such remainder (and none at all for one piece)
    bound = at_once.payout + ceil(sum((residue(r) for r in results[:-1]), Fraction(0)))
    assert paid <= bound
    assert paid < at_once.payout + len(results) or sold < held
    # Every fee went to the dividend pool and the invariants hold
    fees = sum(r.fee_retained for r in results)
    assert sum(r.fee_to_dividend for r in results) == fees
    assert economy.violations() == []
    assert whole.violations() == []


@settings(max_examples=300, deadline=None)
@given(
    purchases=PURCHASES,
    fee=FEE,
    fee_to=st.sampled_from(["dividend_pool", "backing_pool"]),
    share=st.fractions(0, 1),
)
def test_the_price_after_a_sale_is_the_price_before_up_to_a_fen(
    purchases: list[tuple[str, int]], fee: str, fee_to: str, share: Fraction
) -> None:
    economy = history(purchases, fee, fee_to)
    state = economy.state
    units = floor(share * economy.holder("s").points)
    assume(units > 0)
    before = Fraction(*economy.price())
    pool, dividend_pool = state.pool, state.dividend_pool
    try:
        result = economy.sell("s", units)
    except InvalidAmount:
        return
    after = Fraction(*economy.price())
    # The price never falls
    assert after >= before
    value = floor(units * before)
    if fee_to == "dividend_pool":
        # The backing pool gave up the points' whole value; the fee is in the dividend pool;
        # what is left backs the rest at the old price, up to less than a fen
        assert state.pool == pool - value
        assert state.dividend_pool == dividend_pool + value - result.payout
        if state.circulating:
            assert 0 <= state.pool - before * state.circulating < 1
    else:
        assert state.pool == pool - result.payout
        assert state.dividend_pool == dividend_pool
    assert economy.violations() == []


def test_a_piece_can_fetch_back_at_most_the_sub_fen_its_sellers_earlier_piece_left() -> None:
    # The exact limit of "gains nothing": the sole holder of 0.749 points backed by 1.07 sells
    # them in two pieces. The first piece is worth 91.92… fen: the backing pool gives up 91 and
    # 0.92… fen stay in it, which raise the price of the second piece to exactly 16 fen; with a
    # 1 % fee the pieces pay 91 + 15 = 1.06 against floor(105.93…) = 1.05 at once. A piece can
    # fetch back at most the remainders the seller's earlier pieces left, rounded up.
    economy = history([("s", 357)], "0.01", "dividend_pool")
    held = economy.holder("s").points
    whole = copy.deepcopy(economy)
    assert whole.sell("s", held).payout == 105
    first, second = (economy.sell("s", units) for units in split(held, [250, 41]))
    assert first.payout + second.payout == 106
    assert 0 < residue(first) < 1
    assert economy.violations() == []
