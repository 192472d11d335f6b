"""A day whose water level needs many passes: the database settlement still equals the engine.

Natural histories rarely cap more than one group of holders, so this builds the holders
directly: a cascade where each fast pass finds exactly one more capped holder (holder k is
capped at level λ_k but not at λ_(k-1)), so the fixpoint runs out of passes and the sweep
finishes. The same holders are put in the in-memory engine and in the holders table; the
day is settled on both sides and compared holder by holder, to the fen.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from fractions import Fraction
from math import floor
from typing import Any

import pytest
from ledger_helpers import unbalanced
from ledger_history import memory_holders, stored_holders

from tokenmall.adapters.db import settlement_sql, settlement_sqlite
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state, holders
from tokenmall.domain.economy import Economy, Params, dividend
from tokenmall.domain.economy.state import Holder
from tokenmall.domain.ledger.batch import STATE_FIELDS
from tokenmall.services.ledger import settlement

POINT = 10**8
AMOUNT = 10**15  # the day's dividend pool, fen


def cascade(chain: int, big: int, cut: Fraction) -> list[tuple[int, int]]:
    """(weight, remaining) pairs, weights of one unit, that cap one at a time."""
    total = chain + big
    lower, level = Fraction(0), Fraction(AMOUNT, total)
    capped: list[tuple[int, int]] = []
    for _ in range(chain):
        remaining = floor(lower + (level - lower) * cut) + 1
        assert lower < remaining <= level
        capped.append((1, remaining))
        used = sum(r for _, r in capped)
        lower, level = level, Fraction(AMOUNT - used, total - len(capped))
    rich = [(1, floor(level) * 3 + i) for i in range(big)]
    return rich[:1] + capped[::-1] + rich[1:]


def count_passes(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record how many aggregate passes each water level took (the sweep counts as one)."""
    counts: list[int] = []
    real = dividend.water_level_by_sums

    def counting(
        amount: int, weight: int, remaining: int, capped: Any, split: Any
    ) -> dividend.WaterLevel:
        counts.append(0)

        def wrap(inner: Callable[..., Any]) -> Callable[..., Any]:
            def call(num: int, den: int) -> Any:
                counts[-1] += 1
                return inner(num, den)

            return call

        return real(amount, weight, remaining, wrap(capped), wrap(split))

    monkeypatch.setattr(dividend, "water_level_by_sums", counting)
    monkeypatch.setattr(settlement_sql, "water_level_by_sums", counting)
    monkeypatch.setattr(settlement_sqlite, "water_level_by_sums", counting)
    return counts


@pytest.mark.parametrize("forced_exit", [True, False])
def test_a_cascade_of_capped_holders_settles_as_in_the_engine(
    store: Store, monkeypatch: pytest.MonkeyPatch, forced_exit: bool
) -> None:
    monkeypatch.setattr(settlement_sqlite, "CHUNK", 3)
    params = Params(forced_exit=forced_exit, referral_rates=(), grant_rate=Fraction(1))
    tenant = f"cascade-{uuid.uuid4().hex[:8]}"
    with store.transaction() as conn:
        store.create_tenant(conn, tenant, params)
    # given holders that cap one per pass, in the engine and in the database alike
    pairs = cascade(chain=dividend.FAST_PASSES + 4, big=3, cut=Fraction(1, 2))
    economy = Economy(params)
    state = economy.state
    rows: list[dict[str, Any]] = []
    for i, (weight, remaining) in enumerate(pairs):
        h = Holder(f"h{i:03d}")
        h.points, h.quota, h.spend, h.points_seq = weight * POINT, remaining, remaining, i + 1
        state.holders[h.name] = h
        rows.append(
            {
                "tenant_id": tenant,
                "name": h.name,
                "points": h.points,
                "quota": h.quota,
                "spend": h.spend,
                "points_seq": h.points_seq,
            }
        )
    units = sum(w for w, _ in pairs) * POINT
    aggregates = {
        "pool": 10**6,
        "circulating": units,
        "minted": units,
        "dividend_pool": AMOUNT,
        "money_in": AMOUNT + 10**6,
        "seq": len(pairs),
    }
    for name, value in aggregates.items():
        setattr(state, name, value)
    with store.transaction() as conn:
        conn.execute(holders.insert(), rows)
        conn.execute(
            economy_state.update().where(economy_state.c.tenant_id == tenant).values(**aggregates)
        )
    counts = count_passes(monkeypatch)
    # when the day is settled on both sides
    when = date(2026, 7, 1)
    economy.settle_day(when.toordinal())
    result = settlement.settle(store, tenant, when)
    # then both needed more than the fast passes (the sweep ran) ...
    assert len(counts) == 2
    assert min(counts) == dividend.FAST_PASSES + 1
    # ... and every holder, every aggregate and the books agree to the fen
    assert stored_holders(store, tenant) == memory_holders(economy)
    with store.read() as conn:
        stored, _ = store.load_state(conn, tenant)
    for name in STATE_FIELDS:
        assert getattr(stored, name) == getattr(state, name), name
    capped = sum(1 for h in state.holders.values() if h.dividends == h.quota)
    assert capped == dividend.FAST_PASSES + 4
    assert result.recipients == len(pairs)
    assert result.exits == (capped if forced_exit else 0)
    assert unbalanced(store, tenant) == []
