"""domain/ledger/journal.py: a posting carries its account's asset and a non-zero amount; a
draft exists only if its postings balance per asset."""

from __future__ import annotations

import pytest

from tokenmall.domain.ledger import accounts as acc
from tokenmall.domain.ledger.accounts import Asset
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.ledger.journal import JournalDraft, Posting, UnbalancedJournal, build


def test_a_posting_must_use_its_accounts_asset_and_move_something() -> None:
    with pytest.raises(UnbalancedJournal, match="holds money, not equity"):
        Posting(acc.BACKING_POOL, Asset.EQUITY, 5)
    with pytest.raises(UnbalancedJournal, match="a zero posting"):
        Posting(acc.points("ann"), Asset.EQUITY, 0)
    posting = Posting(acc.points("ann"), Asset.EQUITY, -7)
    assert (posting.account, posting.asset, posting.amount) == (acc.points("ann"), Asset.EQUITY, -7)
    with pytest.raises(AttributeError):
        posting.amount = 3  # type: ignore[misc]


def test_build_drops_zero_lines_and_takes_each_accounts_asset() -> None:
    draft = build(
        JournalCode.PURCHASE,
        "k1",
        "fp",
        {"ok": True},
        [
            (acc.GATEWAY_CLEARING, -100),
            (acc.BACKING_POOL, 60),
            (acc.REVENUE, 40),
            (acc.SUPPLY, -9),
            (acc.points("ann"), 9),
            (acc.points("bob"), 0),
        ],
    )
    assert [(str(p.account), p.asset, p.amount) for p in draft.postings] == [
        ("gateway_clearing", Asset.MONEY, -100),
        ("backing_pool", Asset.MONEY, 60),
        ("revenue", Asset.MONEY, 40),
        ("supply", Asset.EQUITY, -9),
        ("user_points:ann", Asset.EQUITY, 9),
    ]


@pytest.mark.parametrize(
    "lines",
    [
        [(acc.GATEWAY_CLEARING, -100), (acc.BACKING_POOL, 99)],  # money short by one fen
        [(acc.SUPPLY, -9), (acc.points("ann"), 9), (acc.REVENUE, 1)],  # money out of nowhere
        [(acc.GATEWAY_CLEARING, -1), (acc.points("ann"), 1)],  # balanced in sum, not per asset
    ],
)
def test_an_unbalanced_draft_is_refused(lines: list[tuple[acc.Account, int]]) -> None:
    with pytest.raises(UnbalancedJournal, match="does not balance"):
        build(JournalCode.PURCHASE, "k1", "fp", {}, lines)
    postings = tuple(Posting(account, account.asset, amount) for account, amount in lines)
    with pytest.raises(UnbalancedJournal, match="does not balance"):
        JournalDraft(JournalCode.PURCHASE, "k1", postings, "fp", {})


def test_a_draft_needs_an_idempotency_key() -> None:
    with pytest.raises(UnbalancedJournal, match="idempotency key"):
        build(JournalCode.PURCHASE, "", "fp", {}, [])


def test_user_accounts_are_values_shared_between_calls() -> None:
    assert acc.points("ann") is acc.points("ann")
    assert acc.points("ann") == acc.Account(acc.AccountKind.USER_POINTS, "ann")
    assert acc.cash("ann") != acc.points("ann")
    assert acc.stable("ann").asset is Asset.STABLE
    with pytest.raises(AssertionError):
        acc.points("")  # a user's account needs a holder
