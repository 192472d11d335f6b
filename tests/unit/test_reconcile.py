"""Reconciliation of a channel's bill against the ledger: the four statuses, properties."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenmall.domain.payments.reconcile import (
    ChannelEntry,
    LedgerEntry,
    Status,
    classify,
    reconcile,
)

kinds = st.sampled_from(["payment", "refund"])
refs = st.text(alphabet="abc_0123", min_size=1, max_size=4)
amounts = st.integers(min_value=1, max_value=10**12)
triples = st.lists(st.tuples(kinds, refs, amounts), max_size=30)


def channel(rows: list[tuple[str, str, int]]) -> list[ChannelEntry]:
    return [ChannelEntry(k, r, a) for k, r, a in rows]  # type: ignore[arg-type]


def ledger(rows: list[tuple[str, str, int]]) -> list[LedgerEntry]:
    return [LedgerEntry(k, r, a) for k, r, a in rows]  # type: ignore[arg-type]


def totals(rows: list[tuple[str, str, int]]) -> dict[tuple[str, str], int]:
    found: dict[tuple[str, str], int] = {}
    for kind, ref, amount in rows:
        found[(kind, ref)] = found.get((kind, ref), 0) + amount
    return found


def test_each_status_once() -> None:
    result = reconcile(
        [
            ChannelEntry("payment", "pay_a", 1000),
            ChannelEntry("payment", "pay_b", 500),
            ChannelEntry("refund", "rf_1", 300),
        ],
        [
            LedgerEntry("payment", "pay_a", 1000),
            LedgerEntry("payment", "pay_b", 499),
            LedgerEntry("refund", "rf_2", 200),
        ],
    )
    assert [(x.kind, x.ref, x.status, x.channel_fen, x.ledger_fen) for x in result.lines] == [
        ("payment", "pay_a", Status.MATCHED, 1000, 1000),
        ("payment", "pay_b", Status.AMOUNT_DIFFERS, 500, 499),
        ("refund", "rf_1", Status.MISSING_IN_LEDGER, 300, None),
        ("refund", "rf_2", Status.MISSING_AT_CHANNEL, None, 200),
    ]
    assert [x.difference_fen for x in result.lines] == [0, 1, 300, -200]
    assert result.counts() == dict.fromkeys(Status, 1)
    assert not result.all_matched
    assert [x.ref for x in result.of(Status.AMOUNT_DIFFERS)] == ["pay_b"]


def test_nothing_on_either_side_is_all_matched_and_empty() -> None:
    result = reconcile([], [])
    assert result.lines == ()
    assert result.all_matched
    assert result.counts() == dict.fromkeys(Status, 0)


def test_a_payment_booked_twice_differs_and_a_split_line_adds_up() -> None:
    twice = reconcile(
        [ChannelEntry("payment", "p", 100)],
        [LedgerEntry("payment", "p", 100), LedgerEntry("payment", "p", 100)],
    )
    assert [(x.status, x.ledger_fen) for x in twice.lines] == [(Status.AMOUNT_DIFFERS, 200)]
    split = reconcile(
        [ChannelEntry("refund", "r", 30), ChannelEntry("refund", "r", 70)],
        [LedgerEntry("refund", "r", 100)],
    )
    assert split.all_matched


def test_a_payment_and_a_refund_of_the_same_ref_are_not_confused() -> None:
    result = reconcile([ChannelEntry("payment", "x", 5)], [LedgerEntry("refund", "x", 5)])
    assert [(x.kind, x.status) for x in result.lines] == [
        ("payment", Status.MISSING_IN_LEDGER),
        ("refund", Status.MISSING_AT_CHANNEL),
    ]


@pytest.mark.parametrize("amount", [0, -1, 1.5, True, "100"])
def test_an_amount_that_is_not_positive_fen_is_refused(amount: object) -> None:
    with pytest.raises((ValueError, TypeError), match="amount_fen"):
        reconcile([ChannelEntry("payment", "p", amount)], [])  # type: ignore[arg-type]
    with pytest.raises((ValueError, TypeError), match="ledger entry 'p'"):
        reconcile([], [LedgerEntry("payment", "p", amount)])  # type: ignore[arg-type]


def test_an_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="kind"):
        reconcile([ChannelEntry("payout", "p", 1)], [])  # type: ignore[arg-type]


def test_classify_needs_a_side() -> None:
    with pytest.raises(ValueError, match="at least one side"):
        classify(None, None)


@given(triples)
def test_a_side_against_itself_all_matches(rows: list[tuple[str, str, int]]) -> None:
    result = reconcile(channel(rows), ledger(rows))
    assert result.all_matched
    assert len(result.lines) == len(totals(rows))


@given(triples, triples)
def test_every_key_once_sorted_with_each_sides_totals(
    left: list[tuple[str, str, int]], right: list[tuple[str, str, int]]
) -> None:
    result = reconcile(channel(left), ledger(right))
    keys = [(x.kind, x.ref) for x in result.lines]
    assert keys == sorted(totals(left).keys() | totals(right).keys())
    for line in result.lines:
        assert line.channel_fen == totals(left).get((line.kind, line.ref))
        assert line.ledger_fen == totals(right).get((line.kind, line.ref))
        assert line.status is classify(line.channel_fen, line.ledger_fen)
    assert sum(x.channel_fen or 0 for x in result.lines) == sum(a for _, _, a in left)
    assert sum(x.ledger_fen or 0 for x in result.lines) == sum(a for _, _, a in right)
    assert sum(result.counts().values()) == len(result.lines)


@given(triples, triples, st.randoms(use_true_random=False))
def test_the_order_of_the_inputs_does_not_matter(
    left: list[tuple[str, str, int]], right: list[tuple[str, str, int]], rnd: random.Random
) -> None:
    shuffled_left, shuffled_right = left[:], right[:]
    rnd.shuffle(shuffled_left)
    rnd.shuffle(shuffled_right)
    assert reconcile(channel(left), ledger(right)) == reconcile(
        channel(shuffled_left), ledger(shuffled_right)
    )


MIRROR = {
    Status.MATCHED: Status.MATCHED,
    Status.AMOUNT_DIFFERS: Status.AMOUNT_DIFFERS,
    Status.MISSING_IN_LEDGER: Status.MISSING_AT_CHANNEL,
    Status.MISSING_AT_CHANNEL: Status.MISSING_IN_LEDGER,
}


@given(triples, triples)
def test_swapping_the_sides_mirrors_the_missing(
    left: list[tuple[str, str, int]], right: list[tuple[str, str, int]]
) -> None:
    there = reconcile(channel(left), ledger(right))
    back = reconcile(channel(right), ledger(left))
    assert [MIRROR[x.status] for x in there.lines] == [x.status for x in back.lines]
    assert [x.difference_fen for x in there.lines] == [-x.difference_fen for x in back.lines]


@given(triples.filter(bool), st.data())
def test_one_entry_dropped_or_changed_is_found(
    rows: list[tuple[str, str, int]], data: st.DataObject
) -> None:
    index = data.draw(st.integers(0, len(rows) - 1))
    kind, ref, amount = rows[index]
    others = rows[:index] + rows[index + 1 :]
    alone = all((k, r) != (kind, ref) for k, r, _ in others)
    dropped = reconcile(channel(rows), ledger(others))
    [line] = [x for x in dropped.lines if (x.kind, x.ref) == (kind, ref)]
    assert line.status is (Status.MISSING_IN_LEDGER if alone else Status.AMOUNT_DIFFERS)
    assert line.difference_fen == amount
    assert all(x.status is Status.MATCHED for x in dropped.lines if x is not line)
    changed = [*others, (kind, ref, amount + data.draw(st.integers(1, 100)))]
    result = reconcile(channel(rows), ledger(changed))
    [line] = [x for x in result.lines if (x.kind, x.ref) == (kind, ref)]
    assert line.status is Status.AMOUNT_DIFFERS
    assert all(x.status is Status.MATCHED for x in result.lines if x is not line)
