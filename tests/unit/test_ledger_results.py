"""The ledger's typed results against the JSON the journals table stores.

The stored texts below were written by the ledger before its results were typed (a purchase
with a referrer's grant and an order, an operator's reversal, a booked order's rewards taken
back, two settled days, one with forced exits); each must read back to integers and be written
again byte for byte, as ``journals.result`` stores it.
"""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import pytest

from tokenmall.domain.economy import Economy, Params
from tokenmall.domain.ledger import from_economy as fe
from tokenmall.domain.ledger.results import (
    DaySettled,
    Granted,
    Purchased,
    Reversed,
    RewardsReversed,
    StoredResult,
)

PURCHASE = (
    '{"amount": "50.00", "buyer": "bob", "code": "purchase", "contribution": "15.00", '
    '"dividend": "15.00", "grants": [{"holder": "bob", "level": 0, "points": "7.35000000"}, '
    '{"holder": "ann", "level": 1, "points": "1.05000000"}], "journal_id": 3, '
    '"order_ref": "o1", "price": "1.42857143", "quota_added": "100.00", "revenue": "20.00"}'
)
PURCHASE_NO_ORDER = (
    '{"amount": "123.45", "buyer": "ann", "code": "purchase", "contribution": "37.03", '
    '"dividend": "37.03", "grants": [{"holder": "ann", "level": 0, "points": "25.92100000"}], '
    '"journal_id": 2, "price": "1.00000000", "quota_added": "246.90", "revenue": "49.39"}'
)
REVERSAL = '{"code": "reversal", "journal_id": 6, "reason": "converted by mistake", "reverses": 4}'
_TAKEN = (
    '{{"debt": "0.00", "debt_for_dividends": "0.00", "debt_for_points_gone": "0.00", '
    '"dividends_removed": "0.00", "holder": "{holder}", "level": {level}, '
    '"points_burned": "{points}", "points_gone": "0.00000000", "points_granted": "{points}", '
    '"quota_removed": "{quota}", "quota_used_removed": "0.00", "spend_removed": "{spend}"}}'
)
REWARDS_REVERSED = (
    '{"approved_by": "admin1", "buyer": "bob", "debt": "0.00", "holders": ['
    + _TAKEN.format(holder="bob", level=0, points="2.94000000", quota="40.00", spend="20.00")
    + ", "
    + _TAKEN.format(holder="ann", level=1, points="0.42000000", quota="0.00", spend="0.00")
    + '], "journal_id": 7, "order_ref": "o1", "points_burned": "3.36000000", '
    '"price": "1.68619205", "price_before": "1.51616098"}'
)
DAY = (
    '{"business_date": "2026-03-01", "code": "dividend", "distributed": "52.17", '
    '"dividend_pool_left": "0.01", "exit_journal_id": 9, "exit_payout": "0.00", '
    '"exit_points": "0.00000000", "exits": 0, "journal_id": 8, "price": "1.68619205", '
    '"recipients": 2}'
)
DAY_EXITS = (
    '{"business_date": "2026-03-01", "code": "forced_exit", "exits": 0, "journal_id": 9, '
    '"payout": "0.00", "points": "0.00000000", "price": "1.68619205"}'
)
EXIT_DAY = (
    '{"business_date": "2026-07-01", "code": "dividend", "distributed": "0.00", '
    '"dividend_pool_left": "6.67", "exit_journal_id": 6, "exit_payout": "59.99", '
    '"exit_points": "35.70000000", "exits": 2, "journal_id": 5, "price": "1.86741363", '
    '"recipients": 0}'
)
EXIT_DAY_EXITS = (
    '{"business_date": "2026-07-01", "code": "forced_exit", "exits": 2, "journal_id": 6, '
    '"payout": "59.99", "points": "35.70000000", "price": "1.86741363"}'
)


def stored(result: StoredResult) -> str:
    """The text ``journals.result`` holds (``Store``'s encoding)."""
    return json.dumps(result, ensure_ascii=False, sort_keys=True)


TYPES: list[tuple[Any, str]] = [
    (Purchased, PURCHASE),
    (Purchased, PURCHASE_NO_ORDER),
    (Reversed, REVERSAL),
    (RewardsReversed, REWARDS_REVERSED),
    (DaySettled, DAY),
    (DaySettled, EXIT_DAY),
]


@pytest.mark.parametrize(("kind", "text"), TYPES)
def test_a_stored_result_is_written_again_byte_for_byte(kind: Any, text: str) -> None:
    typed = kind.from_stored(json.loads(text))
    assert stored(typed.to_json()) == text
    assert kind.from_stored(typed.to_json()) == typed
    assert stored(kind.from_stored(typed.to_json()).to_json()) == text


def test_a_purchase_reads_as_integers() -> None:
    assert Purchased.from_stored(json.loads(PURCHASE)) == Purchased(
        journal_id=3,
        buyer="bob",
        amount=50_00,
        contribution=15_00,
        dividend=15_00,
        revenue=20_00,
        quota_added=100_00,
        grants=(Granted("bob", 735_000_000, 0), Granted("ann", 105_000_000, 1)),
        price=142_857_143,
        order_ref="o1",
    )
    assert Purchased.from_stored(json.loads(PURCHASE)).buyer_points == 735_000_000


def test_a_fresh_purchase_keeps_the_books_key_order() -> None:
    # given a purchase booked by the engine, as ``TenantBook`` answers it
    economy = Economy(Params())
    fresh: StoredResult = {"journal_id": 1, "code": "purchase"}
    fresh.update(fe.purchase_result(economy.purchase("ann", 123_45)))
    fresh["order_ref"] = "o9"
    # then its typed view writes the same document, key for key
    assert list(Purchased.from_stored(fresh).to_json().items()) == list(fresh.items())


def test_reversals_and_days_read_as_integers() -> None:
    assert Reversed.from_stored(json.loads(REVERSAL)) == Reversed(6, 4, "converted by mistake")
    taken = RewardsReversed.from_stored(json.loads(REWARDS_REVERSED))
    assert (taken.journal_id, taken.approved_by) == (7, "admin1")
    assert taken.reversal.points_burned == 336_000_000
    assert [(t.holder, t.points_burned, t.quota_removed) for t in taken.reversal.holders] == [
        ("bob", 294_000_000, 40_00),
        ("ann", 42_000_000, 0),
    ]
    assert (taken.reversal.price_before, taken.reversal.price) == (151_616_098, 168_619_205)
    day = DaySettled.from_stored(json.loads(EXIT_DAY))
    assert day.business_date == date(2026, 7, 1)
    assert (day.exits, day.exit_points, day.exit_payout) == (2, 35_70_000_000, 59_99)


@pytest.mark.parametrize(("day", "exits"), [(DAY, DAY_EXITS), (EXIT_DAY, EXIT_DAY_EXITS)])
def test_a_day_writes_its_forced_exit_journal(day: str, exits: str) -> None:
    assert stored(DaySettled.from_stored(json.loads(day)).exits_json()) == exits
