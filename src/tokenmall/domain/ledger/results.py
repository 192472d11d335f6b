"""The ledger's answers as typed results of integers, and their one stored JSON form.

A journal keeps the answer its command got (``journals.result``, JSON with decimal strings) and
returns it unchanged when its idempotency key is used again. ``StoredResult`` is that JSON
document. The typed results below hold integers (money in fen, points in 1e-8 units, prices in
1e-8 yuan per point); each one's ``to_json()`` is the only place its stored form is written and
``from_stored()`` the only place it is read, so ``from_stored(d).to_json() == d`` for every
answer the ledger stored.

Pure: standard library only, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeAlias

from tokenmall.domain.economy.refund import OrderReversal
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.money import (
    format_money,
    format_points,
    format_price,
    parse_money,
    parse_points,
)

StoredResult: TypeAlias = dict[str, Any]
"""A journal's result as the journals table stores it: a JSON object of decimal strings,
integers and names, the answer of its command the first time and on every replay."""

GrantRow: TypeAlias = tuple[str, int, int]
"""One grant of a purchase as ``(holder, units, level)``."""


def price_units(num: int, den: int) -> int:
    """The price num/den (fen per unit) in 1e-8 yuan per point, as its stored text rounds it."""
    return parse_points(format_price(num, den), "price", allow_zero=True)


def _money(data: Mapping[str, Any], key: str) -> int:
    return parse_money(data[key], key, allow_zero=True)


def _points(data: Mapping[str, Any], key: str) -> int:
    return parse_points(data[key], key, allow_zero=True)


# -- a purchase (rule 1) ------------------------------------------------------------------------


def purchase_body(
    buyer: str,
    amount: int,
    contribution: int,
    dividend: int,
    revenue: int,
    quota_added: int,
    grants: Iterable[GrantRow],
    price: str,
) -> StoredResult:
    """A purchase journal's stored result after its ``journal_id`` and ``code`` (the engine's
    booking and ``Purchased.to_json`` both write it here); ``price``: already formatted."""
    return {
        "buyer": buyer,
        "amount": format_money(amount),
        "contribution": format_money(contribution),
        "dividend": format_money(dividend),
        "revenue": format_money(revenue),
        "quota_added": format_money(quota_added),
        "grants": [
            {"holder": holder, "points": format_points(units), "level": level}
            for holder, units, level in grants
        ],
        "price": price,
    }


@dataclass(frozen=True, slots=True)
class Granted:
    """One grant of a purchase: the holder, its points (units of 1e-8) and its level."""

    holder: str
    points: int
    level: int


@dataclass(frozen=True, slots=True)
class Purchased:
    """A ``Purchase`` journal's result: money in fen, points in units, the price in 1e-8 yuan
    per point after the purchase; ``order_ref``: the mall order it booked, if any."""

    journal_id: int
    buyer: str
    amount: int
    contribution: int
    dividend: int
    revenue: int
    quota_added: int
    grants: tuple[Granted, ...]
    price: int
    order_ref: str | None = None

    @property
    def buyer_points(self) -> int:
        return next((g.points for g in self.grants if g.level == 0), 0)

    def to_json(self) -> StoredResult:
        body = purchase_body(
            self.buyer,
            self.amount,
            self.contribution,
            self.dividend,
            self.revenue,
            self.quota_added,
            ((g.holder, g.points, g.level) for g in self.grants),
            format_points(self.price),
        )
        out: StoredResult = {"journal_id": self.journal_id, "code": str(JournalCode.PURCHASE)}
        out.update(body)
        if self.order_ref is not None:
            out["order_ref"] = self.order_ref
        return out

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Purchased:
        return cls(
            journal_id=int(data["journal_id"]),
            buyer=str(data["buyer"]),
            amount=_money(data, "amount"),
            contribution=_money(data, "contribution"),
            dividend=_money(data, "dividend"),
            revenue=_money(data, "revenue"),
            quota_added=_money(data, "quota_added"),
            grants=tuple(
                Granted(str(g["holder"]), _points(g, "points"), int(g["level"]))
                for g in data.get("grants", ())
            ),
            price=_points(data, "price"),
            order_ref=data.get("order_ref"),
        )


# -- an operator's reversal ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reversed:
    """A ``reversal`` journal's result: the journal ``reverses`` negated, and why."""

    journal_id: int
    reverses: int
    reason: str

    def to_json(self) -> StoredResult:
        return {
            "journal_id": self.journal_id,
            "code": str(JournalCode.REVERSAL),
            "reverses": self.reverses,
            "reason": self.reason,
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> Reversed:
        return cls(int(data["journal_id"]), int(data["reverses"]), str(data["reason"]))


# -- a booked order's rewards taken back (rule 9) ----------------------------------------------


@dataclass(frozen=True, slots=True)
class TakenBack:
    """What refunding an order takes back from one holder it rewarded (``GrantBack``'s
    figures: points in units, money in fen)."""

    holder: str
    level: int
    points_granted: int
    points_burned: int
    points_gone: int
    debt_for_points_gone: int
    quota_removed: int
    quota_used_removed: int
    dividends_removed: int
    debt_for_dividends: int
    spend_removed: int
    debt: int

    def to_json(self) -> StoredResult:
        return {
            "holder": self.holder,
            "level": self.level,
            "points_granted": format_points(self.points_granted),
            "points_burned": format_points(self.points_burned),
            "points_gone": format_points(self.points_gone),
            "debt_for_points_gone": format_money(self.debt_for_points_gone),
            "quota_removed": format_money(self.quota_removed),
            "quota_used_removed": format_money(self.quota_used_removed),
            "dividends_removed": format_money(self.dividends_removed),
            "debt_for_dividends": format_money(self.debt_for_dividends),
            "spend_removed": format_money(self.spend_removed),
            "debt": format_money(self.debt),
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> TakenBack:
        return cls(
            holder=str(data["holder"]),
            level=int(data["level"]),
            points_granted=_points(data, "points_granted"),
            points_burned=_points(data, "points_burned"),
            points_gone=_points(data, "points_gone"),
            debt_for_points_gone=_money(data, "debt_for_points_gone"),
            quota_removed=_money(data, "quota_removed"),
            quota_used_removed=_money(data, "quota_used_removed"),
            dividends_removed=_money(data, "dividends_removed"),
            debt_for_dividends=_money(data, "debt_for_dividends"),
            spend_removed=_money(data, "spend_removed"),
            debt=_money(data, "debt"),
        )


@dataclass(frozen=True, slots=True)
class RewardsReversal:
    """A booked order's rewards taken back, figure by figure (the admin's preview, and the
    body of a ``refund_reversal`` journal); prices in 1e-8 yuan per point."""

    order_ref: str
    buyer: str
    holders: tuple[TakenBack, ...]
    points_burned: int
    debt: int
    price_before: int
    price: int

    @classmethod
    def of(cls, plan: OrderReversal) -> RewardsReversal:
        return cls(
            order_ref=plan.order_ref,
            buyer=plan.buyer,
            holders=tuple(
                TakenBack(
                    t.holder,
                    t.level,
                    t.granted,
                    t.burned,
                    t.gone,
                    t.gone_debt,
                    t.quota_removed,
                    t.quota_used_removed,
                    t.dividends_removed,
                    t.overdrawn_debt,
                    t.spend_removed,
                    t.debt,
                )
                for t in plan.takes
            ),
            points_burned=plan.burned,
            debt=plan.debt,
            price_before=price_units(*plan.price_before),
            price=price_units(*plan.price_after),
        )

    def to_json(self) -> StoredResult:
        return {
            "order_ref": self.order_ref,
            "buyer": self.buyer,
            "holders": [t.to_json() for t in self.holders],
            "points_burned": format_points(self.points_burned),
            "debt": format_money(self.debt),
            "price_before": format_points(self.price_before),
            "price": format_points(self.price),
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> RewardsReversal:
        return cls(
            order_ref=str(data["order_ref"]),
            buyer=str(data["buyer"]),
            holders=tuple(TakenBack.from_stored(row) for row in data["holders"]),
            points_burned=_points(data, "points_burned"),
            debt=_money(data, "debt"),
            price_before=_points(data, "price_before"),
            price=_points(data, "price"),
        )


@dataclass(frozen=True, slots=True)
class RewardsReversed:
    """A ``refund_reversal`` journal's result: the reversal booked, and who approved it."""

    journal_id: int
    reversal: RewardsReversal
    approved_by: str

    def to_json(self) -> StoredResult:
        out: StoredResult = {"journal_id": self.journal_id}
        out.update(self.reversal.to_json())
        out["approved_by"] = self.approved_by
        return out

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> RewardsReversed:
        return cls(
            int(data["journal_id"]), RewardsReversal.from_stored(data), str(data["approved_by"])
        )


# -- a day's settlement (rules 6 and 7) ---------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DaySettled:
    """A settled day: the ``dividend`` journal's result (money in fen, points in units, the
    price the day began with in 1e-8 yuan per point); ``exits_json`` is its ``forced_exit``
    journal's."""

    journal_id: int
    business_date: date
    distributed: int
    recipients: int
    dividend_pool_left: int
    exit_journal_id: int
    exits: int
    exit_points: int
    exit_payout: int
    price: int

    def to_json(self) -> StoredResult:
        return {
            "journal_id": self.journal_id,
            "code": str(JournalCode.DIVIDEND),
            "business_date": self.business_date.isoformat(),
            "distributed": format_money(self.distributed),
            "recipients": self.recipients,
            "dividend_pool_left": format_money(self.dividend_pool_left),
            "exit_journal_id": self.exit_journal_id,
            "exits": self.exits,
            "exit_points": format_points(self.exit_points),
            "exit_payout": format_money(self.exit_payout),
            "price": format_points(self.price),
        }

    def exits_json(self) -> StoredResult:
        return {
            "journal_id": self.exit_journal_id,
            "code": str(JournalCode.FORCED_EXIT),
            "business_date": self.business_date.isoformat(),
            "exits": self.exits,
            "points": format_points(self.exit_points),
            "payout": format_money(self.exit_payout),
            "price": format_points(self.price),
        }

    @classmethod
    def from_stored(cls, data: Mapping[str, Any]) -> DaySettled:
        return cls(
            journal_id=int(data["journal_id"]),
            business_date=date.fromisoformat(data["business_date"]),
            distributed=_money(data, "distributed"),
            recipients=int(data["recipients"]),
            dividend_pool_left=_money(data, "dividend_pool_left"),
            exit_journal_id=int(data["exit_journal_id"]),
            exits=int(data["exits"]),
            exit_points=_points(data, "exit_points"),
            exit_payout=_money(data, "exit_payout"),
            price=_points(data, "price"),
        )
