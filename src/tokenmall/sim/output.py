"""The run's data as files: ``series.csv`` and ``series.json`` (one row a day), ``cohorts.csv``.

Every amount is a decimal string made by ``domain.money`` (money to the fen, points to 1e-8,
the price to 8 places); a days-to-pay of "never" is an empty CSV cell and ``null`` in JSON.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from tokenmall.domain.money import format_money, format_points, format_price
from tokenmall.sim.runner import Cohort, DayRow, SimResult

COLUMNS = (
    "day",
    "price",
    "pool",
    "circulating",
    "minted",
    "burned",
    "treasury",
    "dividend_pool",
    "dividends_paid",
    "quota_outstanding",
    "days_to_pay_quota",
    "exits",
    "buybacks",
    "stable_outstanding",
    "stable_cover",
    "new_buyers",
    "purchases",
    "inflow",
    "daily_inflow_7d",
    "sells",
    "converts",
    "holders",
    "money_in_total",
    "revenue_total",
    "dividends_paid_total",
    "buybacks_total",
)
COHORT_COLUMNS = (
    "cohort",
    "buyers",
    "spent",
    "dividends",
    "buybacks",
    "stable",
    "points",
    "points_value",
    "received",
    "multiple",
)


def row_values(row: DayRow) -> dict[str, str]:
    h = row.health
    days = h.days_to_pay_quota
    return {
        "day": str(row.day),
        "price": format_price(row.price_num, row.price_den),
        "pool": format_money(row.pool),
        "circulating": format_points(row.circulating),
        "minted": format_points(row.minted),
        "burned": format_points(row.burned),
        "treasury": format_points(row.treasury),
        "dividend_pool": format_money(row.dividend_pool),
        "dividends_paid": format_money(row.dividends_paid),
        "quota_outstanding": format_money(h.quota_outstanding),
        "days_to_pay_quota": "" if days is None else str(days),
        "exits": str(row.exits),
        "buybacks": format_money(row.buybacks),
        "stable_outstanding": format_money(h.stable_outstanding),
        "stable_cover": h.stable_cover or "",
        "new_buyers": str(row.new_buyers),
        "purchases": str(row.purchases),
        "inflow": format_money(row.inflow),
        "daily_inflow_7d": format_money(h.daily_inflow),
        "sells": str(row.sells),
        "converts": str(row.converts),
        "holders": str(row.holders),
        "money_in_total": format_money(row.money_in_total),
        "revenue_total": format_money(row.revenue_total),
        "dividends_paid_total": format_money(row.dividends_paid_total),
        "buybacks_total": format_money(row.buybacks_total),
    }


def cohort_values(cohort: Cohort) -> dict[str, str]:
    return {
        "cohort": cohort.label,
        "buyers": str(cohort.buyers),
        "spent": format_money(cohort.spent),
        "dividends": format_money(cohort.dividends),
        "buybacks": format_money(cohort.buybacks),
        "stable": format_money(cohort.stable),
        "points": format_points(cohort.points),
        "points_value": format_money(cohort.points_value),
        "received": format_money(cohort.received),
        "multiple": cohort.multiple,
    }


def summary(result: SimResult) -> dict[str, Any]:
    """The run's description, parameters, final health figures and statement, for JSON."""
    scenario = result.scenario
    final: dict[str, Any] = result.rows[-1].health.to_public() if result.rows else {}
    return {
        "scenario": scenario.name,
        "description": scenario.description,
        "days": scenario.days,
        "seed": result.seed,
        "buyers": len(result.buyers),
        "purchases": result.purchases,
        "params": scenario.params.to_public(),
        "final": final,
        "violations": result.economy.violations(),
    }


def write_csv(path: Path, columns: tuple[str, ...], rows: list[dict[str, str]]) -> None:
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)


def write_data(result: SimResult, out: Path) -> dict[str, Path]:
    """Write series.csv, series.json and cohorts.csv into ``out``; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    rows = [row_values(row) for row in result.rows]
    cohorts = [cohort_values(c) for c in result.cohorts()]
    paths = {
        "series.csv": out / "series.csv",
        "series.json": out / "series.json",
        "cohorts.csv": out / "cohorts.csv",
    }
    write_csv(paths["series.csv"], COLUMNS, rows)
    write_csv(paths["cohorts.csv"], COHORT_COLUMNS, cohorts)
    document = {**summary(result), "cohorts": cohorts, "series": [dict(r) for r in rows]}
    for row in document["series"]:
        if row["days_to_pay_quota"] == "":
            row["days_to_pay_quota"] = None
        if row["stable_cover"] == "":
            row["stable_cover"] = None
    paths["series.json"].write_text(
        json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    return paths
