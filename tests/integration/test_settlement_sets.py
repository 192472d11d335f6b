"""The set-based settlement equals the engine on random holders, in every arithmetic regime.

SQLite computes a product itself where its guard says it fits in 64 bits and calls an exact
Python function where it might not; PostgreSQL computes in NUMERIC. These random tenants put
holders on both sides of SQLite's guards: weights and points from 1 unit to the whole supply,
dividend and backing pools from a few fen to 10^15, quotas up to 4·10^18 (whose SUM overflows
64 bits, so the level is found in Python over keyset chunks), with merchants, exited holders,
holders capped by the water level, zero shares, forced exits, weights by points and by shares.
Each day is settled in the database and in the in-memory engine, and every holder, every
aggregate, the day's result and each holder's postings are compared, to the fen.
"""

from __future__ import annotations

import random
import uuid
from datetime import date
from fractions import Fraction
from typing import Any

import pytest
from ledger_helpers import unbalanced
from ledger_history import memory_holders, stored_holders
from sqlalchemy import select

from tokenmall.adapters.db import settlement_sqlite
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state, holders, postings
from tokenmall.domain.economy import Economy, Params
from tokenmall.domain.economy.state import Holder
from tokenmall.domain.ledger.batch import STATE_FIELDS
from tokenmall.services.ledger import settlement

INT64 = 2**63 - 1
SUPPLY = 10**16  # units: the default max supply of 10^8 points

# regime -> (points range, remaining quota range, dividend pool range, backing pool range)
REGIMES: dict[str, tuple[tuple[int, int], tuple[int, int], tuple[int, int], tuple[int, int]]] = {
    # everything small: SQLite decides every row itself
    "small": ((1, 10**10), (1, 10**7), (1, 10**8), (1, 10**9)),
    # products far past 64 bits: most rows go to the Python functions
    "huge": ((10**6, SUPPLY // 40), (1, 10**13), (10**12, 10**15), (10**9, 10**15)),
    # both sides of the guards in one day
    "mixed": ((1, SUPPLY // 40), (1, 10**12), (1, 10**14), (1, 10**13)),
    # the pool covers every remaining quota: everyone is capped and exits the dividend
    "everyone": ((1, 10**12), (1, 10**5), (10**9, 10**10), (1, 10**9)),
    # remaining quotas whose sum overflows a 64-bit SUM: the level is computed in Python
    "overflow": ((1, SUPPLY // 40), (10**18, 4 * 10**18), (10**17, 10**19 // 2), (1, 10**12)),
}


def random_day(rng: random.Random, regime: str) -> tuple[Params, list[Holder], dict[str, int]]:
    (p_lo, p_hi), (r_lo, r_hi), (d_lo, d_hi), (b_lo, b_hi) = REGIMES[regime]
    by_shares = rng.random() < 0.3
    params = Params(
        forced_exit=rng.random() < 0.7,
        referral_rates=(),
        grant_rate=Fraction(1),
        sell_fee_rate=Fraction(rng.choice([0, 1, 10, 33]), 100),
        dividend_weight="shares" if by_shares else "points",
        share_unit_fen=rng.choice([1, 200, 20000]),
        sell_fee_to=rng.choice(["dividend_pool", "backing_pool"]),
    )
    people: list[Holder] = []
    for i in range(rng.randint(1, 40)):
        h = Holder(f"h{i:03d}")
        kind = rng.random()
        h.points = 0 if kind < 0.1 else rng.randint(p_lo, p_hi)
        remaining = 0 if kind > 0.95 else rng.randint(r_lo, r_hi)
        h.quota_used = rng.randint(0, min(r_hi, INT64 - remaining))
        h.quota = h.quota_used + remaining
        h.dividends = rng.randint(0, h.quota_used)
        h.cash = rng.randint(0, 10**6)
        h.spend = rng.randint(0, max(1, h.quota // 2))
        h.exited = rng.random() < 0.1
        h.merchant = rng.random() < 0.1
        h.points_seq = i + 1
        people.append(h)
    units = sum(h.points for h in people)
    backing = rng.randint(b_lo, b_hi) if units else 0
    aggregates = {
        "pool": backing,
        "circulating": units,
        "minted": units,
        "dividend_pool": rng.randint(d_lo, d_hi),
        "seq": len(people),
    }
    aggregates["money_in"] = aggregates["pool"] + aggregates["dividend_pool"]
    return params, people, aggregates


def day_postings(store: Store, tenant: str) -> dict[tuple[str, str], int]:
    """(account kind, holder) -> sum of its postings, over every journal of the tenant."""
    with store.read() as conn:
        rows = conn.execute(
            select(postings.c.account, postings.c.holder, postings.c.amount).where(
                postings.c.tenant_id == tenant
            )
        ).all()
    out: dict[tuple[str, str], int] = {}
    for account, holder, amount in rows:
        out[account, holder] = out.get((account, holder), 0) + amount
    return out


@pytest.mark.parametrize("regime", sorted(REGIMES))
@pytest.mark.parametrize("seed", range(6))
def test_random_days_settle_as_in_the_engine(
    store: Store, monkeypatch: pytest.MonkeyPatch, regime: str, seed: int
) -> None:
    monkeypatch.setattr(settlement_sqlite, "CHUNK", 3)  # the Python fallback crosses chunks
    rng = random.Random(f"{regime}-{seed}")
    params, people, aggregates = random_day(rng, regime)
    tenant = f"sets-{uuid.uuid4().hex[:8]}"
    with store.transaction() as conn:
        store.create_tenant(conn, tenant, params)
    # given the same holders and pools in the engine (in name order, like the database's
    # exits) and in the holders table
    economy = Economy(params)
    state = economy.state
    before: dict[str, tuple[int, int]] = {}
    rows: list[dict[str, Any]] = []
    for h in people:
        state.holders[h.name] = h
        before[h.name] = (h.cash, h.points)
        rows.append(
            {
                "tenant_id": tenant,
                **{f: getattr(h, f) for f in Holder.__slots__ if f not in ("stable", "referrer")},
            }
        )
    for name, value in aggregates.items():
        setattr(state, name, value)
    with store.transaction() as conn:
        conn.execute(holders.insert(), rows)
        conn.execute(
            economy_state.update().where(economy_state.c.tenant_id == tenant).values(**aggregates)
        )
    # when the day is settled on both sides
    when = date(2026, 8, 1)
    expected = economy.settle_day(when.toordinal())
    result = settlement.settle(store, tenant, when)
    # then the result, every holder and every aggregate agree to the fen
    assert result.recipients == expected.recipients
    assert result.exits == len(expected.exits)
    assert stored_holders(store, tenant) == memory_holders(economy)
    with store.read() as conn:
        seqs = dict(
            conn.execute(
                select(holders.c.name, holders.c.points_seq).where(holders.c.tenant_id == tenant)
            ).all()
        )
        stored, _ = store.load_state(conn, tenant)
    # (the engine takes the day's exits in its own order, the database by name: the same
    # sequence numbers, given out in name order)
    assert sorted(seqs.values()) == sorted(h.points_seq for h in people)
    exited = sorted(h.name for h in people if h.points_seq > len(people))
    assert [seqs[name] for name in exited] == sorted(seqs[name] for name in exited)
    for name in STATE_FIELDS:
        assert getattr(stored, name) == getattr(state, name), name
    # and the day's journals balance and post exactly each holder's change
    assert unbalanced(store, tenant) == []
    posted = day_postings(store, tenant)
    for h in people:
        cash, points = before[h.name]
        assert posted.get(("user_cash", h.name), 0) == h.cash - cash, h.name
        assert posted.get(("user_points", h.name), 0) == h.points - points, h.name
    # and the pools' postings are their changes: with sell_fee_to = dividend_pool the exits'
    # fees leave the backing pool for the dividend pool
    assert posted.get(("backing_pool", ""), 0) == state.pool - aggregates["pool"]
    assert posted.get(("dividend_pool", ""), 0) == (
        state.dividend_pool - aggregates["dividend_pool"]
    )
