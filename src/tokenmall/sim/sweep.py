"""Parameter sweeps: the same scenario and seed over a grid of parameter values.

Every combination is validated before anything runs, so a bad grid fails with one clear
message and writes nothing. Each run uses the same seed (the same buyers make the same draws
while the rules let them), so the rows differ by the parameters, not by luck.
"""

from __future__ import annotations

import itertools
import json
import random
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from tokenmall.domain.errors import DomainError
from tokenmall.domain.money import format_money, format_price
from tokenmall.sim.output import write_csv
from tokenmall.sim.runner import run
from tokenmall.sim.scenario import Scenario, ScenarioError

RESULT_COLUMNS = (
    "price",
    "pool",
    "dividends_paid_total",
    "quota_outstanding",
    "days_to_pay_quota",
    "exits_total",
    "buybacks_total",
    "first_multiple",
    "last_multiple",
    "violations",
)


def parse_axis(text: str) -> tuple[str, list[str]]:
    """``"pool_rate=0.2,0.3,0.4"`` to ("pool_rate", ["0.2", "0.3", "0.4"])."""
    name, sep, values = text.partition("=")
    items = [v.strip() for v in values.split(",") if v.strip()]
    if not sep or not name.strip() or not items:
        raise ScenarioError(f'a sweep is NAME=V1,V2,… such as "pool_rate=0.2,0.3", got {text!r}')
    return name.strip(), items


Axes = list[tuple[str, list[str]]]


def grid(scenario: Scenario, axes: Axes) -> list[tuple[dict[str, str], Scenario]]:
    """Every combination as (values, scenario); refuses the whole grid if any is invalid."""
    names = [name for name, _ in axes]
    if len(set(names)) != len(names):
        raise ScenarioError("each swept parameter may appear only once")
    combos = []
    for values in itertools.product(*(vals for _, vals in axes)):
        chosen = dict(zip(names, values, strict=True))
        changes: dict[str, Any] = {
            k: [v] if k in ("referral_rates", "commission_rates") else v for k, v in chosen.items()
        }
        try:
            params = scenario.params.updated(changes)
        except DomainError as exc:
            shown = ", ".join(f"{k}={v}" for k, v in chosen.items())
            raise ScenarioError(f"sweep combination {shown}: {exc}") from None
        combos.append((chosen, replace(scenario, params=params)))
    return combos


def sweep(
    scenario: Scenario,
    axes: Axes,
    seed: int,
    out: Path,
    on_run: Callable[[int], None] | None = None,
) -> list[dict[str, Any]]:
    combos = grid(scenario, axes)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, Any]] = []
    for i, (chosen, variant) in enumerate(combos, start=1):
        result = run(variant, random.Random(seed), seed)
        last = result.rows[-1]
        first_cohort, last_cohort = result.cohorts()
        days = last.health.days_to_pay_quota
        rows.append(
            {
                **chosen,
                "price": format_price(last.price_num, last.price_den),
                "pool": format_money(last.pool),
                "dividends_paid_total": format_money(last.dividends_paid_total),
                "quota_outstanding": format_money(last.health.quota_outstanding),
                "days_to_pay_quota": "" if days is None else str(days),
                "exits_total": str(sum(r.exits for r in result.rows)),
                "buybacks_total": format_money(last.buybacks_total),
                "first_multiple": first_cohort.multiple,
                "last_multiple": last_cohort.multiple,
                "violations": str(len(result.economy.violations())),
            }
        )
        if on_run is not None:
            on_run(i)
    columns = (*(name for name, _ in axes), *RESULT_COLUMNS)
    write_csv(out / "sweep.csv", columns, rows)
    (out / "sweep.json").write_text(
        json.dumps(
            {
                "scenario": scenario.name,
                "days": scenario.days,
                "seed": seed,
                "axes": dict(axes),
                "runs": rows,
            },
            ensure_ascii=False,
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    if len(axes) == 2:
        from tokenmall.sim.plots import draw_sweep

        draw_sweep(axes, rows, out / "sweep.png")
    return rows
