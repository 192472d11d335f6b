"""Postings and journal drafts: a draft exists only if its postings balance per asset."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple

from tokenmall.domain.errors import DomainError
from tokenmall.domain.ledger.accounts import ASSET_OF, Account, Asset
from tokenmall.domain.ledger.codes import JournalCode


class UnbalancedJournal(ValueError):
    """A programmer error: postings that do not sum to zero per asset."""


class IdempotencyConflict(DomainError):
    """The idempotency key was already used for a different request."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"idempotency key {key!r} was already used for a different request; "
            "use a new key for a new request"
        )
        self.key = key


class _PostingFields(NamedTuple):
    account: Account
    asset: Asset
    amount: int  # signed, in the asset's minor unit


class Posting(_PostingFields):
    """One line of a journal: a non-zero amount of the account's own asset. Immutable (a named
    tuple: a purchase makes six of them on the writer's hot path)."""

    __slots__ = ()

    def __new__(cls, account: Account, asset: Asset, amount: int) -> Posting:
        if asset != account.asset:
            raise UnbalancedJournal(f"{account} holds {account.asset}, not {asset}")
        if amount == 0:
            raise UnbalancedJournal(f"a zero posting to {account}")
        return _new_tuple(cls, (account, asset, amount))


_new_tuple = tuple.__new__  # a Posting already checked (``build``)


Line = tuple[Account, int]  # an account and a signed amount in its asset's unit


def balance_by_asset(postings: Iterable[Posting]) -> dict[Asset, int]:
    totals: dict[Asset, int] = {}
    get = totals.get
    for _, asset, amount in postings:
        totals[asset] = get(asset, 0) + amount
    return totals


@dataclass(frozen=True, slots=True)
class JournalDraft:
    """One business event ready to be written; ``result`` is the answer the caller got."""

    code: JournalCode
    idempotency_key: str
    postings: tuple[Posting, ...]
    request_fingerprint: str
    result: Mapping[str, Any]
    business_date: date | None = None

    def __post_init__(self) -> None:
        if not self.idempotency_key:
            raise UnbalancedJournal("a journal needs an idempotency key")
        unbalanced = {a: s for a, s in balance_by_asset(self.postings).items() if s != 0}
        if unbalanced:
            detail = ", ".join(f"{asset} by {total}" for asset, total in unbalanced.items())
            raise UnbalancedJournal(f"{self.code} journal does not balance: {detail}")


def build(
    code: JournalCode,
    key: str,
    fingerprint: str,
    result: Mapping[str, Any],
    lines: Iterable[Line],
    business_date: date | None = None,
) -> JournalDraft:
    """A draft from (account, amount) lines, dropping zeros (a grant of 0 points posts nothing)."""
    # Each line posts its account's own asset, so the Postings need no check of their own
    # (the draft still checks the balance).
    kept = tuple(
        [
            _new_tuple(Posting, (account, ASSET_OF[account.kind], amount))
            for account, amount in lines
            if amount
        ]
    )
    return JournalDraft(code, key, kept, fingerprint, result, business_date)


class UnknownTenant(DomainError):
    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"no tenant {tenant_id!r}; create it first")
        self.tenant_id = tenant_id
