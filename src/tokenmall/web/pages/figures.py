"""The console's figures as the pages show them: the price history and a parameter change's
preview, read by ``services/figures.py`` and formatted here (decimal strings, labels)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.domain.economy.params import Params
from tokenmall.domain.money import format_money, format_points, format_price
from tokenmall.services import figures as service


@dataclass(frozen=True, slots=True)
class PricePoint:
    label: str  # a business date (settled days) or a timestamp
    price: str  # yuan per point, a decimal string


def _label(at: object) -> str:
    if isinstance(at, datetime):
        return at.isoformat()[:16].replace("T", " ")
    return str(at)


def price_history(conn: Connection, tenant_id: str, limit: int = 90) -> list[PricePoint]:
    """The price at each settled day (oldest first), else at the last priced journals."""
    return [
        PricePoint(_label(p.at), p.price) for p in service.price_history(conn, tenant_id, limit)
    ]


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


def _shown(effect: service.OrderEffect) -> OrderEffect:
    return OrderEffect(
        price=format_price(effect.price_num, effect.price_den),
        buyer_points=format_points(effect.buyer_units),
        buyer_value=format_money(effect.buyer_value_fen),
        referral_points=[format_points(units) for units in effect.referral_units],
        contribution=format_money(effect.contribution_fen),
        dividend=format_money(effect.dividend_fen),
        revenue=format_money(effect.revenue_fen),
        quota_added=format_money(effect.quota_added_fen),
    )


def preview(
    conn: Connection,
    tenant_id: str,
    proposed: Params | None,
    contribution_fen: int | None = None,
) -> dict[str, Any]:
    """The effect of one 100.00 order now, under the current and the proposed parameters."""
    found = service.preview(conn, tenant_id, proposed, contribution_fen)
    return {
        "order": format_money(found.order_fen),
        "before": _shown(found.before),
        "after": None if found.after is None else _shown(found.after),
    }
