"""What held tokens allow at checkout (``domain/nfg/holders.py``): gates open to holders of any
collection naming the SKU, and the one best discount, rounded down, never the whole order."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tokenmall.domain.nfg.holders import BuyerRights, Gate, HeldDiscount, best_discount


def test_a_gated_sku_opens_to_a_holder_of_any_collection_naming_it() -> None:
    gates = {"sku_a": (Gate("col_1", "黑卡"), Gate("col_2", "金卡"))}
    assert BuyerRights(gates, frozenset()).refused("sku_a") == gates["sku_a"]
    assert BuyerRights(gates, frozenset({"col_2"})).refused("sku_a") == ()
    assert BuyerRights(gates, frozenset()).refused("sku_b") == ()


def test_the_best_discount_wins_rounded_down_ties_to_the_lowest_collection() -> None:
    held = (
        HeldDiscount("col_b", "B", 1, 333),
        HeldDiscount("col_a", "A", 2, 250),
        HeldDiscount("col_c", "C", 1, 333),
    )
    found = best_discount(held, 99_99)
    assert found is not None
    assert (found.collection_id, found.serial, found.off_fen) == ("col_b", 1, 332)
    assert best_discount((), 100) is None
    assert best_discount((HeldDiscount("col_a", "A", 1, 1),), 99) is None  # nothing off


@given(st.integers(1, 10**12), st.lists(st.integers(1, 10_000), max_size=5))
def test_a_discount_never_takes_the_whole_order(goods: int, rates: list[int]) -> None:
    held = tuple(HeldDiscount(f"col_{i}", "x", 1, r) for i, r in enumerate(rates))
    found = best_discount(held, goods)
    if found is not None:
        assert 0 < found.off_fen < goods
        assert found.off_fen <= goods * found.discount_bps // 10_000
