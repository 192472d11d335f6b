"""A booked order refunded (economy.md rule 9): the engine and the ledger take back the same
figures from the same history: points, quota, spend, debts and the price."""

from __future__ import annotations

from datetime import date

import pytest
from ledger_helpers import holder
from sqlalchemy import select

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state
from tokenmall.domain.economy import Economy, Params
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.money import parse_money
from tokenmall.services.ledger.execute import execute, purchase_key

POINT = 10**8


@pytest.mark.parametrize("dividend", [False, True])
def test_engine_and_ledger_refund_the_same(store: Store, tenant: str, dividend: bool) -> None:
    t = tenant
    engine = Economy(Params())
    execute(store, c.Join(tenant_id=t, idempotency_key="j", user="bob", referrer="amy"))
    engine.join("bob", "amy")
    execute(store, c.Purchase(tenant_id=t, idempotency_key="p0", user="amy", amount_fen=50_00))
    engine.purchase("amy", 50_00)
    execute(
        store,
        c.Purchase(
            tenant_id=t,
            idempotency_key=purchase_key("o1"),
            user="bob",
            amount_fen=100_00,
            order_ref="o1",
        ),
    )
    engine.purchase_order("o1", "bob", 100_00)
    execute(store, c.Sell(tenant_id=t, idempotency_key="s", user="bob", units=5 * POINT))
    engine.sell("bob", 5 * POINT)
    execute(store, c.Sell(tenant_id=t, idempotency_key="s2", user="amy", units=4 * POINT))
    engine.sell("amy", 4 * POINT)
    if dividend:
        execute(store, c.SettleDay(tenant_id=t, business_date=date(2026, 1, 2)))
        engine.settle_day(1)

    taken = execute(
        store,
        c.ReverseOrderRewards(
            tenant_id=t, idempotency_key="order:o1:reversal", order_ref="o1", approved_by="root"
        ),
    )
    engine.refund_order("o1")

    for name in ("amy", "bob"):
        row = holder(store, t, name)
        assert row is not None
        h = engine.holder(name)
        assert (row["points"], row["quota"], row["quota_used"], row["spend"], row["dividends"]) == (
            h.points,
            h.quota,
            h.quota_used,
            h.spend,
            h.dividends,
        )
    debts = {r["holder"]: parse_money(r["debt"], allow_zero=True) for r in taken["holders"]}
    assert debts == {name: engine.debts.get(name, 0) for name in debts}
    assert engine.debts["bob"] > 0
    with store.read() as conn:
        state = (
            conn.execute(select(economy_state).where(economy_state.c.tenant_id == t)).one()._mapping
        )
    assert (state["pool"], state["circulating"], state["burned"], state["receivables"]) == (
        engine.state.pool,
        engine.state.circulating,
        engine.state.burned,
        engine.state.receivables,
    )
    assert engine.violations() == []
