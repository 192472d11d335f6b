"""The market's money through the ledger: a deposit, a bid's reservation and release, a trade
from cash and from escrow, each one balanced journal; a trade never touches points, quota,
the pools or the price; refusals change nothing; replays change nothing; audit stays clean."""

from __future__ import annotations

from typing import Any

import pytest
from ledger_helpers import holder, snapshot, unbalanced

from tokenmall.adapters.db.store import Store
from tokenmall.domain.errors import InsufficientBalance, RuleViolation
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.services.ledger.audit import audit
from tokenmall.services.ledger.execute import execute

AGGREGATES = ("money_in", "market_deposits", "market_escrow", "market_fees", "royalties")
UNTOUCHED = ("pool", "dividend_pool", "revenue", "circulating", "minted", "commissions_paid")


def state(store: Store, t: str) -> dict[str, int]:
    with store.read() as conn:
        s, _ = store.load_state(conn, t)
    return {n: getattr(s, n) for n in (*AGGREGATES, *UNTOUCHED)}


def clean(store: Store, t: str) -> None:
    assert unbalanced(store, t) == []
    (report,) = audit(store, t)
    assert report.findings == []


def deposit(store: Store, t: str, user: str, fen: int, ref: str = "dep_1") -> dict[str, Any]:
    return execute(
        store,
        c.MarketDeposit(
            tenant_id=t, idempotency_key=f"d:{ref}", user=user, ref=ref, amount_fen=fen
        ),
    )


def trade(store: Store, t: str, ref: str, *, from_escrow: bool = False, **kw: Any) -> Any:
    args = {"buyer": "bob", "seller": "sue", "price_fen": 12_000, "fee_fen": 240,
            "royalty_fen": 600, "issuer": "brand"} | kw  # fmt: skip
    return execute(
        store,
        c.MarketTrade(
            tenant_id=t, idempotency_key=f"{ref}:trade", ref=ref, from_escrow=from_escrow, **args
        ),
    )


def test_a_trade_is_one_journal_and_moves_money_only(store: Store, tenant: str) -> None:
    deposit(store, tenant, "bob", 50_000)
    before = state(store, tenant)
    done = trade(store, tenant, "t1")
    assert done["code"] == str(JournalCode.MARKET_TRADE)
    assert (done["proceeds"], done["trade_price"]) == ("111.60", "120.00")
    assert (holder(store, tenant, "bob")["cash"], holder(store, tenant, "sue")["cash"]) == (
        38_000,
        11_160,
    )
    after = state(store, tenant)
    assert (after["market_fees"], after["royalties"]) == (240, 600)
    assert {n: after[n] for n in UNTOUCHED} == {n: before[n] for n in UNTOUCHED}
    sue = holder(store, tenant, "sue")
    assert (sue["points"], sue["quota"]) == (0, 0)
    assert trade(store, tenant, "t1") == done  # replay: nothing more
    assert holder(store, tenant, "bob")["cash"] == 38_000
    clean(store, tenant)


def test_a_bid_reserves_then_pays_from_escrow_or_returns(store: Store, tenant: str) -> None:
    deposit(store, tenant, "bob", 30_000)
    for ref in ("o1", "o2"):
        execute(store, c.MarketReserve(tenant_id=tenant, idempotency_key=f"{ref}:reserve",
                                       user="bob", ref=ref, amount_fen=12_000))  # fmt: skip
    assert holder(store, tenant, "bob")["cash"] == 6_000
    assert state(store, tenant)["market_escrow"] == 24_000
    trade(store, tenant, "o1", from_escrow=True)
    release = c.MarketRelease(
        tenant_id=tenant, idempotency_key="o2:release", user="bob", ref="o2", amount_fen=12_000
    )
    execute(store, release)
    execute(store, release)  # the same release again: once
    assert holder(store, tenant, "bob")["cash"] == 18_000
    assert holder(store, tenant, "sue")["cash"] == 11_160
    s = state(store, tenant)
    assert (s["market_escrow"], s["market_fees"], s["royalties"]) == (0, 240, 600)
    held = 18_000 + 11_160 + s["market_escrow"] + s["market_fees"] + s["royalties"]
    assert held == s["market_deposits"] == s["money_in"]
    clean(store, tenant)


@pytest.mark.parametrize(
    ("kw", "error"),
    [
        ({"price_fen": 60_000}, InsufficientBalance),
        ({"seller": "bob"}, RuleViolation),
        ({"fee_fen": 7_000, "royalty_fen": 6_000}, RuleViolation),
        ({"fee_fen": -1}, RuleViolation),
    ],
)
def test_refused_trades_change_nothing(
    store: Store, tenant: str, kw: dict[str, Any], error: type[Exception]
) -> None:
    deposit(store, tenant, "bob", 50_000)
    before = snapshot(store, tenant)
    with pytest.raises(error):
        trade(store, tenant, "bad", **kw)
    with pytest.raises(InsufficientBalance):
        trade(store, tenant, "bad2", from_escrow=True)
    with pytest.raises(InsufficientBalance):
        execute(store, c.MarketReserve(tenant_id=tenant, idempotency_key="r", user="bob",
                                       ref="o9", amount_fen=50_001))  # fmt: skip
    assert snapshot(store, tenant) == before
    clean(store, tenant)
