"""Read-only figures the console shows: the price history and a parameter change's preview.

``price_history`` reads the prices the ledger's own journals recorded (each day's settlement
journal carries the price it settled at; purchases the price their points were granted at), so
it adds no arithmetic.

``preview`` runs the engine's own purchase rule (``domain/economy/purchase.py``) on a scratch
copy of the tenant's aggregates, once with the current parameters and once with the proposed
ones: what a 100.00 order would grant the buyer and each referrer level, what it puts into the
backing pool and the dividend pool, and the quota it adds. Nothing is written. Every figure is
an integer of minor units (or a price as numerator and denominator); the pages format them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date, datetime

from sqlalchemy import Connection

from tokenmall.adapters.db import console as sql
from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy.market import value_at_price
from tokenmall.domain.economy.params import Params
from tokenmall.domain.economy.purchase import purchase
from tokenmall.domain.economy.state import EconomyState, Holder, Rates

PREVIEW_ORDER_FEN = 100_00


@dataclass(frozen=True, slots=True)
class PricedAt:
    at: date | datetime | str  # a settled business date, else a priced journal's time
    price: str  # yuan per point, the decimal text the journal recorded


def price_history(conn: Connection, tenant_id: str, limit: int = 90) -> list[PricedAt]:
    """The price at each settled day (oldest first, the last ``limit`` days); with no settled
    day yet, the prices of the last ``limit`` priced journals."""
    settled = sql.settled_prices(conn, tenant_id, limit)
    if settled:
        return [PricedAt(day, price) for day, price in settled]
    return [PricedAt(at, price) for at, price in sql.journal_prices(conn, tenant_id, limit)]


@dataclass(frozen=True, slots=True)
class OrderEffect:
    price_num: int
    price_den: int
    buyer_units: int
    buyer_value_fen: int  # the buyer's points at the price after the order, rounded down
    referral_units: list[int]  # level 1, 2, 3
    contribution_fen: int
    dividend_fen: int
    revenue_fen: int
    quota_added_fen: int


@dataclass(frozen=True, slots=True)
class Preview:
    order_fen: int
    before: OrderEffect
    after: OrderEffect | None


def _effect(
    params: Params,
    aggregates: EconomyState,
    contribution_fen: int | None,
    order_fen: int = PREVIEW_ORDER_FEN,
) -> OrderEffect:
    state = replace(aggregates, holders={})
    levels = len(params.referral_rates)
    buyer = state.holder("preview-buyer")
    referrer: Holder | None = None
    for level in range(levels, 0, -1):
        holder = state.holder(f"preview-referrer-{level}")
        holder.referrer = None if referrer is None else referrer.name
        referrer = holder
    buyer.referrer = None if referrer is None else referrer.name
    result = purchase(Rates(params), state, buyer, order_fen, contribution_fen)
    by_level = {grant.level: grant.units for grant in result.grants}
    price_num, price_den = state.price()
    buyer_units = by_level.get(0, 0)
    return OrderEffect(
        price_num=result.price_num,
        price_den=result.price_den,
        buyer_units=buyer_units,
        buyer_value_fen=value_at_price(buyer_units, price_num, price_den),
        referral_units=[by_level.get(k, 0) for k in range(1, levels + 1)],
        contribution_fen=result.contribution,
        dividend_fen=result.dividend,
        revenue_fen=result.revenue,
        quota_added_fen=result.quota_added,
    )


def current_params(conn: Connection, tenant_id: str) -> tuple[Params, int]:
    """The tenant's economy parameters and their version."""
    return Store(conn.engine).load_params(conn, tenant_id)


def preview(
    conn: Connection,
    tenant_id: str,
    proposed: Params | None,
    contribution_fen: int | None = None,
) -> Preview:
    """The effect of one 100.00 order now, under the current and the proposed parameters."""
    store = Store(conn.engine)
    current, _ = store.load_params(conn, tenant_id)
    state, _ = store.load_state(conn, tenant_id)
    return Preview(
        order_fen=PREVIEW_ORDER_FEN,
        before=_effect(current, state, contribution_fen),
        after=None if proposed is None else _effect(proposed, state, contribution_fen),
    )


@dataclass(frozen=True, slots=True)
class Backing:
    """What backs a point now: the backing pool and the points in circulation."""

    pool_fen: int
    circulating_units: int
    price_num: int
    price_den: int


def product_rewards(
    conn: Connection, tenant_id: str, options: list[tuple[int, int | None]]
) -> tuple[list[OrderEffect], Backing]:
    """What buying each option (``(price_fen, pool_contribution_fen)``) alone would grant now,
    by the engine's own purchase rule on a copy of the aggregates (nothing is written), and
    what backs the points. Points are booked at the price when the order's rewards are booked,
    so this is an estimate a page must say is one."""
    store = Store(conn.engine)
    params, _ = store.load_params(conn, tenant_id)
    state, _ = store.load_state(conn, tenant_id)
    effects = [_effect(params, state, contribution, price) for price, contribution in options]
    num, den = state.price()
    return effects, Backing(state.pool, state.circulating, num, den)
