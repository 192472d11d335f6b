"""A royalty payout through the ledger on SQLite and PostgreSQL: one balanced journal moving an
issuer's accrued royalties out of the ``royalties`` account into its cash; every fen stays
accounted for, the audit stays clean; a payout above what is accrued, or of nothing, is refused
and changes nothing; a replay changes nothing."""

from __future__ import annotations

import pytest
from ledger_helpers import holder, unbalanced
from test_market_cash import AGGREGATES, UNTOUCHED, clean, deposit, state, trade

from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import DomainError, InsufficientBalance
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.services.ledger.execute import execute


def cash(store: Store, t: str, name: str) -> int:
    found = holder(store, t, name)
    return 0 if found is None else int(found["cash"])


def payout(store: Store, t: str, fen: int, key: str = "roy:1") -> dict[str, object]:
    return execute(
        store,
        c.RoyaltyPayout(
            tenant_id=t, idempotency_key=key, issuer="brand", period="2026-12-05", amount_fen=fen
        ),
    )


def test_a_payout_moves_the_royalties_into_the_issuers_cash(store: Store, tenant: str) -> None:
    deposit(store, tenant, "bob", 50_000)
    trade(store, tenant, "t1")  # royalty 6.00
    before = state(store, tenant)
    done = payout(store, tenant, 600)
    assert done["code"] == str(JournalCode.ROYALTY_PAYOUT)
    assert (done["issuer"], done["amount"], done["period"]) == ("brand", "6.00", "2026-12-05")
    after = state(store, tenant)
    assert after["royalties"] == 0
    assert cash(store, tenant, "brand") == 600
    assert {n: after[n] for n in UNTOUCHED} == {n: before[n] for n in UNTOUCHED}
    assert after["money_in"] == before["money_in"]
    assert payout(store, tenant, 600) == done  # replay: nothing more
    assert cash(store, tenant, "brand") == 600
    users = sum(cash(store, tenant, u) for u in ("bob", "sue", "brand"))
    assert users + after["market_fees"] + after["royalties"] == after["market_deposits"]
    assert unbalanced(store, tenant) == []
    clean(store, tenant)


@pytest.mark.parametrize("fen", [601, 0, -5])
def test_a_payout_beyond_the_accrued_royalties_changes_nothing(
    store: Store, tenant: str, fen: int
) -> None:
    deposit(store, tenant, "bob", 50_000)
    trade(store, tenant, "t1")
    before = state(store, tenant)
    with pytest.raises((InsufficientBalance, DomainError)):
        payout(store, tenant, fen, key=f"roy:{fen}")
    assert state(store, tenant) == before
    assert {n: before[n] for n in AGGREGATES}["royalties"] == 600
    assert cash(store, tenant, "brand") == 0
    clean(store, tenant)
