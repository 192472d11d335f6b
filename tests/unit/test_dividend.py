"""Rule 6, the daily dividend by exact water-filling: small cases by hand, then ``water_level``
against a brute-force exact reference (Fractions) on random and adversarial inputs.
"""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction
from math import floor

from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmall.domain.economy import SEED, Economy
from tokenmall.domain.economy.dividend import FAST_PASSES, WaterLevel, water_level

POINT = 10**8

# Weight by shares of 100.00 so weights are small whole numbers; no forced exit here.
BY_SHARES = SEED.updated(
    {
        "referral_rates": [],
        "dividend_rate": "0.30",
        "share_unit": "100.00",
        "dividend_weight": "shares",
        "forced_exit": False,
    }
)


def three_holders(x_multiple: str, others_multiple: str) -> Economy:
    """X spends 100.00 (1 share), Y 100.00 (1 share), Z 200.00 (2 shares); D = 120.00."""
    economy = Economy(BY_SHARES.updated({"quota_multiple": x_multiple}))
    economy.purchase("X", 100_00)
    economy.set_params({"quota_multiple": others_multiple})
    economy.purchase("Y", 100_00)
    economy.purchase("Z", 200_00)
    assert economy.state.dividend_pool == 120_00
    return economy


def dividends(economy: Economy, *names: str) -> list[int]:
    return [economy.holder(name).dividends for name in names]


def test_capped_holder_s_share_is_shared_again_among_the_rest() -> None:
    # Given X's quota is 10.00 and Y's and Z's are 200.00 and 400.00
    economy = three_holders("0.1", "2")
    # When the day is settled: λ0 = 120 / 4 shares = 30.00 caps X at 10.00;
    # the other 110.00 go to Y and Z over 3 shares: λ = 36.666…
    day = economy.settle_day(1)
    # Then X 10.00, Y floor(3666.67) = 3666 fen, Z floor(7333.33) = 7333 fen
    assert dividends(economy, "X", "Y", "Z") == [10_00, 3666, 7333]
    assert (day.distributed, day.recipients) == (11_999, 3)
    # The fen the floors left stays in the pool for the next day
    assert economy.state.dividend_pool == 1
    x, y = economy.holder("X"), economy.holder("Y")
    assert (x.quota_used, x.cash, x.exited) == (10_00, 10_00, True)  # 出局
    assert (y.quota_used, y.remaining_quota, y.exited) == (3666, 200_00 - 3666, False)
    assert economy.violations() == []

    # When the next day has only that fen: 1/3 fen a share rounds down to nothing for anyone
    day = economy.settle_day(2)
    assert day.distributed == 0
    assert economy.state.dividend_pool == 1


def test_when_everyone_is_capped_the_rest_stays_in_the_pool() -> None:
    # Given quotas 10.00, 10.00 and 20.00 against a pool of 120.00
    economy = three_holders("0.1", "0.1")
    # When settled, everyone receives their whole remaining quota and has exited
    day = economy.settle_day(1)
    assert dividends(economy, "X", "Y", "Z") == [10_00, 10_00, 20_00]
    assert day.distributed == 40_00
    assert economy.state.dividend_pool == 80_00
    assert all(economy.holder(n).exited for n in "XYZ")
    # Exited holders receive nothing on the next day
    assert economy.settle_day(2).distributed == 0
    assert economy.state.dividend_pool == 80_00
    # A new purchase adds quota and brings X back: X alone is owed its new 10.00
    economy.purchase("X", 100_00)
    assert economy.holder("X").exited is False
    economy.settle_day(3)
    assert dividends(economy, "X", "Y", "Z") == [20_00, 10_00, 20_00]
    assert economy.state.dividend_pool == 80_00 + 30_00 - 10_00
    assert economy.violations() == []


def test_weighted_by_points() -> None:
    # Given A holds 21 points with quota 10.00, B 14.7 points with quota 200.00; D = 60.00
    economy = Economy(
        SEED.updated(
            {
                "referral_rates": [],
                "dividend_rate": "0.30",
                "forced_exit": False,
                "quota_multiple": "0.1",
            }
        )
    )
    economy.purchase("A", 100_00)
    economy.set_params({"quota_multiple": "2"})
    economy.purchase("B", 100_00)
    # When settled: A's 21/35.7 of 60.00 (35.29) is capped at 10.00; B takes the other 50.00
    economy.settle_day(1)
    assert dividends(economy, "A", "B") == [10_00, 50_00]
    assert economy.state.dividend_pool == 0


def test_dividends_do_not_move_the_price() -> None:
    economy = three_holders("0.1", "2")
    before = economy.price()
    economy.settle_day(1)
    assert economy.price() == before


# -- water_level against an exact reference --------------------------------------------------


def reference(amount: int, pairs: list[tuple[int, int]]) -> tuple[Fraction | None, list[int]]:
    """λ (None when everyone is capped) and each holder's floor(min(r, λ·w)), with Fractions."""
    if sum(r for _, r in pairs) <= amount:
        return None, [r for _, r in pairs]
    total_weight = sum(w for w, _ in pairs)
    capped_r = capped_w = 0
    level = Fraction(amount, total_weight)
    for w, r in sorted(pairs, key=lambda pair: Fraction(pair[1], pair[0])):
        if Fraction(r, w) > level:
            break
        capped_r += r
        capped_w += w
        level = Fraction(amount - capped_r, total_weight - capped_w)
    return level, [floor(min(Fraction(r), level * w)) for w, r in pairs]


class CountingSource:
    """A pair source that counts its passes (the fast path makes at most 1 + FAST_PASSES)."""

    def __init__(self, pairs: list[tuple[int, int]]) -> None:
        self.pairs = pairs
        self.calls = 0

    def __call__(self) -> Iterable[tuple[int, int]]:
        self.calls += 1
        return iter(self.pairs)


def check(amount: int, pairs: list[tuple[int, int]]) -> WaterLevel:
    source = CountingSource(pairs)
    level = water_level(amount, source)
    expected_level, expected = reference(amount, pairs)
    got = [level.allocation(w, r) for w, r in pairs]
    assert got == expected
    if expected_level is None:
        assert level.everyone_capped
    else:
        assert not level.everyone_capped
        lam = Fraction(level.num, level.den)
        assert lam == expected_level
        # λ characterised independently: Σ min(r_i, λ·w_i) is exactly the amount
        assert sum(min(Fraction(r), lam * w) for w, r in pairs) == amount
    assert sum(got) <= amount
    return level


pair = st.tuples(st.integers(1, 10**6), st.integers(1, 10**6))


@settings(max_examples=300, deadline=None)
@given(pairs=st.lists(pair, min_size=1, max_size=30), share=st.fractions(0, Fraction(6, 5)))
def test_water_level_matches_the_exact_reference(
    pairs: list[tuple[int, int]], share: Fraction
) -> None:
    amount = floor(share * sum(r for _, r in pairs))
    check(amount, pairs)


@settings(max_examples=100, deadline=None)
@given(
    pairs=st.lists(
        st.tuples(st.integers(1, 10**13), st.integers(1, 10**9)), min_size=1, max_size=50
    ),
    amount=st.integers(0, 10**10),
)
def test_water_level_with_point_sized_weights(pairs: list[tuple[int, int]], amount: int) -> None:
    check(amount, pairs)


def cascade(chain: int, big: int, cuts: list[Fraction]) -> tuple[int, list[tuple[int, int]]]:
    """Holders that cap one at a time: holder k is capped at level λ_k but not at λ_(k-1).

    Each pass of the fast path then finds exactly one more capped holder, so more than
    FAST_PASSES passes are needed and the sort fallback must finish the job.
    """
    # Each step shrinks the gap between levels by at most ~460x (46 holders, cut 0.9), so
    # 40 steps need ~10**107 of room for a whole fen to fit in every gap.
    amount = 10**250
    total = chain + big
    lower, level = Fraction(0), Fraction(amount, total)
    capped: list[tuple[int, int]] = []
    for k in range(chain):
        remaining = floor(lower + (level - lower) * cuts[k % len(cuts)]) + 1
        assert lower < remaining <= level
        capped.append((1, remaining))
        used = sum(r for _, r in capped)
        lower, level = level, Fraction(amount - used, total - len(capped))
    rich = [(1, floor(level) * 3 + i) for i in range(big)]
    return amount, rich[: big // 2] + capped[::-1] + rich[big // 2 :]


@settings(max_examples=60, deadline=None)
@given(
    chain=st.integers(FAST_PASSES + 1, 40),
    big=st.integers(1, 6),
    cuts=st.lists(st.fractions(Fraction(1, 10), Fraction(9, 10)), min_size=1, max_size=5),
)
def test_water_level_on_adversarial_cascades_uses_the_sweep(
    chain: int, big: int, cuts: list[Fraction]
) -> None:
    amount, pairs = cascade(chain, big, cuts)
    source = CountingSource(pairs)
    water_level(amount, source)
    # More passes than the fast path can make (totals + FAST_PASSES): the sweep ran.
    assert source.calls > 1 + FAST_PASSES
    level = check(amount, pairs)
    assert not level.everyone_capped
    # Only the rich are left uncapped
    capped = [r * level.den <= level.num * w for w, r in pairs]
    assert capped.count(False) == big


def test_water_level_short_cascade_stays_on_the_fast_path() -> None:
    amount, pairs = cascade(2, 3, [Fraction(1, 2)])
    source = CountingSource(pairs)
    water_level(amount, source)
    assert source.calls <= 1 + FAST_PASSES
    check(amount, pairs)


def test_water_level_edge_cases() -> None:
    check(0, [(1, 5), (2, 7)])  # nothing to share
    assert check(12, [(1, 5), (2, 7)]).everyone_capped  # exactly enough
    check(11, [(1, 5), (2, 7)])  # one fen short
    check(10**6, [(10**12, 1)])  # one holder, capped
