"""Workloads for ``tokenmall bench economy``: the engine alone, in memory.

Seconds are wall-clock figures for a person to read (``time.perf_counter``); money stays in
integers throughout.
"""

from __future__ import annotations

import random
import time

from tokenmall.domain.economy import SEED, Economy
from tokenmall.domain.economy.state import Holder


def purchases_per_second(count: int, users: int = 10_000, seed: int = 7) -> float:  # float-ok: time
    """Book ``count`` purchases of random amounts by ``users`` buyers, a third with referrers."""
    rng = random.Random(seed)
    economy = Economy(SEED.updated({"referral_rates": ["0.10", "0.05"]}))
    names = [f"u{i}" for i in range(users)]
    for i in range(1, users, 3):
        economy.join(names[i], names[i - 1])
    plan = [(names[rng.randrange(users)], rng.randrange(1_000, 200_000)) for _ in range(count)]
    purchase = economy.purchase
    started = time.perf_counter()
    for name, amount in plan:
        purchase(name, amount)
    elapsed = time.perf_counter() - started
    return count / elapsed


def dividend_day_seconds(holders: int, seed: int = 11) -> float:  # float-ok: time
    """One business day (dividend then forced exit) for ``holders`` holders with quota left."""
    rng = random.Random(seed)
    economy = Economy(SEED)
    state = economy.state
    total_points = 0
    for i in range(holders):
        holder = Holder(f"h{i}")
        spend = rng.randrange(10_000, 1_000_000)
        holder.spend = spend
        holder.quota = 2 * spend
        holder.quota_used = rng.randrange(0, spend)
        holder.points = rng.randrange(1, 10**10)
        total_points += holder.points
        state.holders[holder.name] = holder
    # A pool that prices points well below anyone's remaining quota, and one day's inflow.
    state.minted = state.circulating = total_points
    state.pool = total_points // 10**8
    state.money_in = state.pool + holders * 1_000
    state.dividend_pool = holders * 1_000
    started = time.perf_counter()
    economy.settle_day(1)
    return time.perf_counter() - started
