"""``tokenmall bench simulate``: a million simulated purchases over a year, timed.

The workload is a scenario like any other: ``total_purchases`` spreads exactly the asked number
of orders over the days; 15 new buyers arrive a day (about 5,500 buyers in a year, so most
orders are repeat purchases), three in ten referred; a few holders sell and convert. Every
day is settled (dividend and forced exit), and its health figures recorded, as in any run.
The seconds are wall-clock, for a person to read; no test asserts them.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from fractions import Fraction

from tokenmall.domain.economy import DEFAULT
from tokenmall.sim.runner import run
from tokenmall.sim.scenario import BASKET, Phase, Scenario


@dataclass(frozen=True, slots=True)
class BenchResult:
    purchases: int
    seconds: float  # wall clock
    cpu_seconds: float  # this process's CPU time: the figure when other work shares the cores
    days: int
    buyers: int


def bench_scenario(purchases: int, days: int, new_buyers: float = 15.0) -> Scenario:
    return Scenario(
        "bench",
        f"{purchases} purchases over {days} days, {new_buyers:g} new buyers a day",
        DEFAULT,
        days,
        (
            Phase(
                new_buyers=(new_buyers, new_buyers),
                sell_rate=0.002,
                convert_rate=0.001,
                convert_fraction=Fraction(1, 2),
                spend_stable_rate=0.5,
            ),
        ),
        basket=BASKET,
        referral_probability=0.3,
        arrival="fixed",
        total_purchases=purchases,
    )


def bench_simulate(purchases: int = 1_000_000, days: int = 365, seed: int = 1) -> BenchResult:
    scenario = bench_scenario(purchases, days)
    started, cpu_started = time.perf_counter(), time.process_time()
    result = run(scenario, random.Random(seed), seed)
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started
    return BenchResult(result.purchases, seconds, cpu_seconds, days, len(result.buyers))
