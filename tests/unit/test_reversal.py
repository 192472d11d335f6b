"""``domain.ledger.reversal``: reversing a booking gives back exactly what it took, balanced,
never into a negative balance, never lowering the price; a refused reversal changes nothing.

The journals are made by the engine itself (``Economy``) and booked as the ledger books them
(``from_economy`` lines, ``journal.build``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from tokenmall.domain.economy import Economy, Params
from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.errors import DomainError, InsufficientBalance, InvalidAmount, RuleViolation
from tokenmall.domain.ledger import from_economy as fe
from tokenmall.domain.ledger.codes import REVERSIBLE, JournalCode
from tokenmall.domain.ledger.journal import Line, Posting, balance_by_asset, build
from tokenmall.domain.ledger.reversal import HOLDER_BALANCES, NEVER_NEGATIVE, reverse

AMOUNTS = st.lists(st.integers(min_value=100, max_value=10**9), min_size=1, max_size=6)
PART = st.integers(min_value=1, max_value=100)  # percent of a balance a booking moves


def booked(code: JournalCode, lines: list[Line]) -> tuple[Posting, ...]:
    return build(code, "key", "fingerprint", {}, lines).postings


def balances(state: EconomyState) -> dict[str, Any]:
    """What postings mirror: the aggregates (a mint and a burn net out in ``circulating``) and
    every holder's points, cash and stable points."""
    out: dict[str, Any] = {name: getattr(state, name) for name in NEVER_NEGATIVE}
    out["holders"] = {
        h.name: tuple(getattr(h, name) for name in HOLDER_BALANCES) for h in state.holders.values()
    }
    return out


def everything(state: EconomyState) -> dict[str, Any]:
    """Every aggregate and every holder field: what a refused reversal leaves alone."""
    out = {name: getattr(state, name) for name in EconomyState.__slots__ if name != "holders"}
    out["holders"] = {
        h.name: tuple(getattr(h, name) for name in h.__slots__) for h in state.holders.values()
    }
    return out


def never_negative(state: EconomyState) -> None:
    for name in NEVER_NEGATIVE:
        assert getattr(state, name) >= 0, name
    for h in state.holders.values():
        for name in HOLDER_BALANCES:
            assert getattr(h, name) >= 0, (h.name, name)


def shop(amounts: list[int]) -> Economy:
    """An economy where ``amy``, ``bob`` and ``cat`` bought; ``shop`` is a merchant."""
    economy = Economy(Params())
    for i, amount in enumerate(amounts):
        economy.purchase(("amy", "bob", "cat")[i % 3], amount)
    economy.holder("shop").merchant = True
    return economy


def _share(balance: int, part: int) -> int:
    return max(1, balance * part // 100)


def accepted(book: Callable[[], tuple[JournalCode, list[Line]]]) -> tuple[JournalCode, list[Line]]:
    """The booking, if the engine accepts it (a few points can be worth less than 0.01)."""
    try:
        return book()
    except InvalidAmount:
        assume(False)
        raise


# -- bookings that leave the price where it was: (what comes before, the booking) -------------


def _nothing(economy: Economy) -> None:
    return None


def _amy_converts_all(economy: Economy) -> None:
    economy.convert("amy", economy.state.holders["amy"].points)


def _shop_is_paid(economy: Economy) -> None:
    _amy_converts_all(economy)
    economy.pay_stable("amy", "shop", economy.state.holders["amy"].stable)


def _convert(economy: Economy, part: int) -> tuple[JournalCode, list[Line]]:
    units = _share(economy.state.holders["amy"].points, part)
    return JournalCode.CONVERT, fe.convert_lines(economy.convert("amy", units))


def _pay_stable(economy: Economy, part: int) -> tuple[JournalCode, list[Line]]:
    amount = _share(economy.state.holders["amy"].stable, part)
    return JournalCode.PAY_STABLE, fe.pay_stable_lines(economy.pay_stable("amy", "shop", amount))


def _redeem(economy: Economy, part: int) -> tuple[JournalCode, list[Line]]:
    amount = _share(economy.state.holders["shop"].stable, part)
    return JournalCode.REDEEM_STABLE, fe.redeem_lines(economy.redeem_stable("shop", amount))


Booking = Callable[[Economy, int], tuple[JournalCode, list[Line]]]
BOOKINGS: dict[str, tuple[Callable[[Economy], None], Booking]] = {
    "convert": (_nothing, _convert),
    "pay_stable": (_amy_converts_all, _pay_stable),
    "redeem_stable": (_shop_is_paid, _redeem),
}


@settings(max_examples=80, deadline=None)
@given(amounts=AMOUNTS, booking=st.sampled_from(sorted(BOOKINGS)), part=PART)
def test_reversing_a_booking_gives_back_exactly_what_it_took(
    amounts: list[int], booking: str, part: int
) -> None:
    economy = shop(amounts)
    state = economy.state
    prepare, book = BOOKINGS[booking]
    prepare(economy)
    before = balances(state)
    code, lines = accepted(lambda: book(economy, part))
    postings = booked(code, lines)
    # when the booking is reversed at once
    negated, touched = reverse(state, code, postings, journal_id=7)
    # then every posting is negated, in order, the reversal balances per asset ...
    assert negated == [(p.account, -p.amount) for p in postings]
    assert set(balance_by_asset(booked(JournalCode.REVERSAL, negated)).values()) <= {0}
    assert touched == sorted({p.account.holder for p in postings if p.account.holder})
    # ... and every balance is back where it was before the booking, none negative
    assert balances(state) == before
    never_negative(state)


@settings(max_examples=60, deadline=None)
@given(amounts=AMOUNTS, part=PART)
def test_what_was_spent_since_is_not_reversed_and_nothing_changes(
    amounts: list[int], part: int
) -> None:
    economy = shop(amounts)
    state = economy.state
    code, lines = accepted(lambda: _convert(economy, part))
    # given the stable points of the conversion were paid on since
    economy.pay_stable("amy", "shop", state.holders["amy"].stable)
    unchanged = everything(state)
    # then reversing the conversion is refused (amy's stable would go negative), unchanged
    with pytest.raises(InsufficientBalance, match="amy's stable"):
        reverse(state, code, booked(code, lines), journal_id=5)
    assert everything(state) == unchanged


@settings(max_examples=60, deadline=None)
@given(amounts=AMOUNTS, part=PART, spend=st.integers(min_value=100, max_value=10**9))
def test_a_reversed_purchase_or_buyback_never_lowers_the_price(
    amounts: list[int], part: int, spend: int
) -> None:
    economy = shop(amounts)
    state = economy.state
    bookings = [(JournalCode.PURCHASE, fe.purchase_lines(economy.purchase("dan", spend)))]
    units = _share(state.holders["amy"].points, part)
    bookings.append(
        accepted(lambda: (JournalCode.BUYBACK, fe.sell_lines(economy.sell("amy", units))))
    )
    for code, lines in reversed(bookings):
        price = state.price()
        unchanged = everything(state)
        try:
            reverse(state, code, booked(code, lines), journal_id=6)
        except DomainError:
            assert everything(state) == unchanged  # refused: nothing moved
        else:
            after = state.price()
            assert after[0] * price[1] >= price[0] * after[1]
            never_negative(state)


@pytest.mark.parametrize("code", sorted(set(JournalCode) - REVERSIBLE), ids=str)
def test_journals_that_are_not_reversible_are_refused(code: JournalCode) -> None:
    economy = shop([10_000])
    state = economy.state
    lines = fe.convert_lines(economy.convert("amy", state.holders["amy"].points))
    unchanged = everything(state)
    with pytest.raises(RuleViolation, match="cannot be reversed"):
        reverse(state, code, booked(JournalCode.CONVERT, lines), journal_id=2)
    assert everything(state) == unchanged
