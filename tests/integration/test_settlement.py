"""The streaming settlement pays exactly what the in-memory engine pays; a day settles once."""

from __future__ import annotations

from datetime import date
from fractions import Fraction

import pytest
from ledger_helpers import holder, snapshot, unbalanced
from ledger_history import POINT, memory_holders, random_history, stored_holders

from tokenmall.adapters.db import settlement_sqlite
from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy import Economy, Params
from tokenmall.domain.errors import RuleViolation
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger.batch import STATE_FIELDS
from tokenmall.services.ledger.audit import audit, clean
from tokenmall.services.ledger.execute import execute
from tokenmall.services.ledger.settlement import settle

VARIANTS = {
    "default": Params(),
    # quotas small against the dividend pool: water-filling caps holders and they exit
    "capping": Params(
        quota_multiple=Fraction(1, 2), dividend_rate=Fraction(1, 2), pool_rate=Fraction(3, 10)
    ),
    "shares": Params(dividend_weight="shares", share_unit_fen=5000),
    "no_forced_exit": Params(forced_exit=False, quota_multiple=Fraction(1, 4)),
    "no_referrals": Params(referral_rates=(), grant_rate=Fraction(1)),
    # the old fee rule: a buyback's fee stays in the backing pool
    "fee_to_backing": Params(sell_fee_to="backing_pool", quota_multiple=Fraction(1, 2)),
}


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keyset chunks of 5 holders, so every scan crosses many chunk boundaries."""
    monkeypatch.setattr(settlement_sqlite, "CHUNK", 5)


def new_tenant(store: Store, params: Params, name: str) -> str:
    import uuid

    tenant = f"{name}-{uuid.uuid4().hex[:8]}"
    with store.transaction() as conn:
        store.create_tenant(conn, tenant, params)
    return tenant


@pytest.mark.parametrize("variant", sorted(VARIANTS))
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_streaming_settlement_equals_the_engine(store: Store, variant: str, seed: int) -> None:
    params = VARIANTS[variant]
    tenant = new_tenant(store, params, variant)
    # given the same random history of commands and days, in memory and in the database
    economy = random_history(store, tenant, params, seed)
    # then every holder's balances, quota, dividends and exit state agree to the fen
    assert stored_holders(store, tenant) == memory_holders(economy)
    with store.read() as conn:
        state, _ = store.load_state(conn, tenant)
    mem = economy.state
    for name in STATE_FIELDS:
        if name in ("last_price_num", "last_price_den") and mem.circulating == 0:
            continue  # order of a day's exits decides this only when all points are gone
        assert getattr(state, name) == getattr(mem, name), name
    assert unbalanced(store, tenant) == []


def test_capped_holders_exit_and_the_rest_share_again(store: Store) -> None:
    # given two buyers: a big one with a small remaining quota and a small one
    params = Params(referral_rates=(), forced_exit=False)
    tenant = new_tenant(store, params, "cap")
    economy = Economy(params)
    for user, amount in (("big", 100000), ("small", 10000)):
        execute(
            store, c.Purchase(tenant_id=tenant, idempotency_key=user, user=user, amount_fen=amount)
        )
        economy.purchase(user, amount)
    # when days are settled until the pool runs dry of quota
    for day in range(1, 6):
        when = date(2026, 3, day)
        result = settle(store, tenant, when)
        economy.settle_day(when.toordinal())
        assert stored_holders(store, tenant) == memory_holders(economy)
    big = holder(store, tenant, "big")
    assert big is not None
    assert big["dividends"] <= big["quota"]
    assert result.business_date == date(2026, 3, 5)


def test_settling_a_day_twice_equals_once(store: Store, tenant: str) -> None:
    for i, user in enumerate(("a", "b", "c")):
        execute(
            store,
            c.Purchase(
                tenant_id=tenant, idempotency_key=f"p{i}", user=user, amount_fen=10000 * (i + 1)
            ),
        )
    first = settle(store, tenant, date(2026, 5, 1))
    assert first.distributed != 0
    assert first.recipients == 3
    before = snapshot(store, tenant)
    # when cron runs the same day again, through settle or as a command
    again = settle(store, tenant, date(2026, 5, 1))
    as_command = execute(store, c.SettleDay(tenant_id=tenant, business_date=date(2026, 5, 1)))
    # then the answer is the first one and nothing changed
    assert again == first
    assert as_command == first.to_json()
    assert snapshot(store, tenant) == before


def test_a_day_before_the_last_settled_is_refused(store: Store, tenant: str) -> None:
    execute(store, c.Purchase(tenant_id=tenant, idempotency_key="p", user="a", amount_fen=100))
    settle(store, tenant, date(2026, 5, 2))
    before = snapshot(store, tenant)
    with pytest.raises(RuleViolation, match="before the last settled day"):
        settle(store, tenant, date(2026, 5, 1))
    assert snapshot(store, tenant) == before


def test_each_recipient_has_a_dividend_posting(store: Store, tenant: str) -> None:
    for i in range(7):
        execute(
            store,
            c.Purchase(
                tenant_id=tenant, idempotency_key=f"p{i}", user=f"u{i}", amount_fen=1000 + i
            ),
        )
    result = settle(store, tenant, date(2026, 6, 1))
    rows = snapshot(store, tenant)["postings"]
    cash = {r[4]: r[6] for r in rows if r[1] == result.journal_id and r[3] == "user_cash"}
    assert len(cash) == result.recipients == 7
    for name, amount in cash.items():
        h = holder(store, tenant, name)
        assert h is not None
        assert h["dividends"] == amount == h["cash"]
    assert sum(cash.values()) == result.distributed
    assert POINT  # imported for the history helpers


@pytest.mark.parametrize(
    ("fee_to", "backing_out", "dividend_in"),
    [
        # A's 21 points at 90.00 / 48.195: worth floor(3921.57…) = 3921, paid
        # floor(3529.41…) = 3529; B's 14.7: worth 2745, paid 2470. The fees 392 + 275 go to
        # the dividend pool; with backing_pool only the payouts leave the backing pool.
        ("dividend_pool", 3921 + 2745, 392 + 275),
        ("backing_pool", 3529 + 2470, 0),
    ],
)
def test_forced_exit_fees_go_where_sell_fee_to_says(
    store: Store, fee_to: str, backing_out: int, dividend_in: int
) -> None:
    # given A and B with quota 10.00 each and C with quota 200.00, no dividend rate
    params = Params(
        referral_rates=(),
        dividend_rate=Fraction(0),
        quota_multiple=Fraction(1, 10),
        sell_fee_to=fee_to,
    )
    tenant = new_tenant(store, params, "exitfee")
    economy = Economy(params)
    for user in ("A", "B", "C"):
        if user == "C":
            execute(
                store,
                c.ChangeParams(
                    tenant_id=tenant, idempotency_key="q", changes={"quota_multiple": "2"}
                ),
            )
            economy.set_params({"quota_multiple": "2"})
        execute(
            store, c.Purchase(tenant_id=tenant, idempotency_key=user, user=user, amount_fen=100_00)
        )
        economy.purchase(user, 100_00)
    # when the day is settled: A and B are forced out at p = 9000 / 4.8195e9 fen per unit
    result = settle(store, tenant, date(2026, 7, 1))
    day = economy.settle_day(date(2026, 7, 1).toordinal())
    assert result.exits == 2
    assert result.exit_payout == 59_99  # 35.29 + 24.70
    assert [(e.holder, e.payout, e.fee) for e in day.exits] == (
        [("A", 3529, 392), ("B", 2470, 275)]
        if fee_to == "dividend_pool"
        else [("A", 3529, 0), ("B", 2470, 0)]
    )
    # then the forced-exit journal moves the fees from the backing pool to the dividend pool
    rows = snapshot(store, tenant)["postings"]
    lines = {(r[3], r[4]): r[6] for r in rows if r[1] == result.exit_journal_id}
    assert lines[("backing_pool", "")] == -backing_out
    assert lines.get(("dividend_pool", ""), 0) == dividend_in
    assert (lines[("user_cash", "A")], lines[("user_cash", "B")]) == (3529, 2470)
    with store.read() as conn:
        state, _ = store.load_state(conn, tenant)
    assert (state.pool, state.dividend_pool) == (9000 - backing_out, dividend_in)
    for name in STATE_FIELDS:
        assert getattr(state, name) == getattr(economy.state, name), name
    assert stored_holders(store, tenant) == memory_holders(economy)
    assert unbalanced(store, tenant) == []


@pytest.mark.parametrize(
    ("fee_to", "backing_out", "dividend_in"),
    [
        # A's 210 of 224.7 points at 330.00: worth 308.41, paid 277.57, fee 30.84
        ("dividend_pool", 308_41, 30_84),
        ("backing_pool", 277_57, 0),
    ],
)
def test_a_buyback_journal_posts_the_fee_where_sell_fee_to_says(
    store: Store, fee_to: str, backing_out: int, dividend_in: int
) -> None:
    params = Params(referral_rates=(), sell_fee_to=fee_to)
    tenant = new_tenant(store, params, "sellfee")
    for user, amount in (("A", 1000_00), ("B", 100_00)):
        execute(
            store, c.Purchase(tenant_id=tenant, idempotency_key=user, user=user, amount_fen=amount)
        )
    with store.read() as conn:
        before, _ = store.load_state(conn, tenant)
    sold = execute(
        store, c.Sell(tenant_id=tenant, idempotency_key="sell", user="A", units=210 * POINT)
    )
    assert sold["payout"] == "277.57"
    rows = snapshot(store, tenant)["postings"]
    lines = {(r[3], r[4]): r[6] for r in rows if r[1] == sold["journal_id"]}
    assert lines[("backing_pool", "")] == -backing_out
    assert lines.get(("dividend_pool", ""), 0) == dividend_in
    assert (lines[("user_cash", "A")], lines[("user_points", "A")]) == (277_57, -210 * POINT)
    with store.read() as conn:
        after, _ = store.load_state(conn, tenant)
    assert after.pool == before.pool - backing_out
    assert after.dividend_pool == before.dividend_pool + dividend_in
    assert unbalanced(store, tenant) == []
    assert clean(audit(store, tenant))
