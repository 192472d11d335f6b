"""Read-only figures the console shows: the price history and a parameter change's preview.

``price_history`` reads the prices the ledger's own journals recorded (each day's settlement
journal carries the price it settled at; purchases the price their points were granted at), so
it adds no arithmetic. It is a stopgap for the console until the wallet service's price history
lands (issue 4), after which the chart should call that instead.

``preview`` runs the engine's own purchase rule (``domain/economy/purchase.py``) on a scratch
copy of the tenant's aggregates, once with the current parameters and once with the proposed
ones: what a 100.00 order would grant the buyer and each referrer level, what it puts into the
backing pool and the dividend pool, and the quota it adds. Nothing is written.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import journals
from tokenmall.domain.economy.market import value_at_price
from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.purchase import purchase
from tokenmall.domain.economy.state import EconomyState, Holder, Rates
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.money import format_money, format_points, format_price

PREVIEW_ORDER_FEN = 100_00


@dataclass(frozen=True, slots=True)
class PricePoint:
    label: str  # a business date (settled days) or a timestamp
    price: str  # yuan per point, a decimal string


def price_history(conn: Connection, tenant_id: str, limit: int = 90) -> list[PricePoint]:
    """The price at each settled day (oldest first, the last ``limit`` days); with no settled
    day yet, the prices of the last ``limit`` priced journals."""
    rows = conn.execute(
        select(journals.c.business_date, journals.c.result)
        .where(
            journals.c.tenant_id == tenant_id,
            journals.c.code == JournalCode.DIVIDEND.value,
            journals.c.reverses.is_(None),
        )
        .order_by(journals.c.journal_id.desc())
        .limit(limit)
    ).all()
    points = [
        PricePoint(str(day), str(json.loads(result).get("price")))
        for day, result in reversed(rows)
        if json.loads(result).get("price") is not None
    ]
    if points:
        return points
    priced = (JournalCode.PURCHASE.value, JournalCode.BUYBACK.value, JournalCode.CONVERT.value)
    rows = conn.execute(
        select(journals.c.created_at, journals.c.result)
        .where(journals.c.tenant_id == tenant_id, journals.c.code.in_(priced))
        .order_by(journals.c.journal_id.desc())
        .limit(limit)
    ).all()
    out = []
    for created, result in reversed(rows):
        price = json.loads(result).get("price")
        if price is not None:
            label = created.isoformat()[:16] if isinstance(created, datetime) else str(created)
            out.append(PricePoint(label.replace("T", " "), str(price)))
    return out


@dataclass(frozen=True, slots=True)
class OrderEffect:
    price: str
    buyer_points: str
    buyer_value: str  # the buyer's points at the price after the order, rounded down
    referral_points: list[str]  # level 1, 2, 3
    contribution: str
    dividend: str
    revenue: str
    quota_added: str


def _effect(params: Params, aggregates: EconomyState, contribution_fen: int | None) -> OrderEffect:
    state = replace(aggregates, holders={})
    levels = len(params.referral_rates)
    buyer = state.holder("preview-buyer")
    referrer: Holder | None = None
    for level in range(levels, 0, -1):
        holder = state.holder(f"preview-referrer-{level}")
        holder.referrer = None if referrer is None else referrer.name
        referrer = holder
    buyer.referrer = None if referrer is None else referrer.name
    result = purchase(Rates(params), state, buyer, PREVIEW_ORDER_FEN, contribution_fen)
    by_level = {grant.level: grant.units for grant in result.grants}
    price_num, price_den = state.price()
    buyer_units = by_level.get(0, 0)
    return OrderEffect(
        price=format_price(result.price_num, result.price_den),
        buyer_points=format_points(buyer_units),
        buyer_value=format_money(value_at_price(buyer_units, price_num, price_den)),
        referral_points=[format_points(by_level.get(k, 0)) for k in range(1, levels + 1)],
        contribution=format_money(result.contribution),
        dividend=format_money(result.dividend),
        revenue=format_money(result.revenue),
        quota_added=format_money(result.quota_added),
    )


def preview(
    conn: Connection,
    tenant_id: str,
    proposed: Params | None,
    contribution_fen: int | None = None,
) -> dict[str, Any]:
    """The effect of one 100.00 order now, under the current and the proposed parameters."""
    store = Store(conn.engine)
    current, _ = store.load_params(conn, tenant_id)
    state, _ = store.load_state(conn, tenant_id)
    return {
        "order": format_money(PREVIEW_ORDER_FEN),
        "before": _effect(current, state, contribution_fen),
        "after": None if proposed is None else _effect(proposed, state, contribution_fen),
    }
