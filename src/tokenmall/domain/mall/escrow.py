"""An order's money split: what the consumer pays in money and in stable points, and the
backing-pool contribution of its money part. Integers of fen throughout, rounded down."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tokenmall.domain.mall.orders import OrderLine


@dataclass(frozen=True, slots=True)
class PaymentPlan:
    """``money_fen`` through the gateway (into escrow) plus ``stable_fen`` in stable points."""

    money_fen: int
    stable_fen: int

    @property
    def total_fen(self) -> int:
        return self.money_fen + self.stable_fen


def plan(total_fen: int, stable_fen: int) -> PaymentPlan:
    """``total_fen`` split into its stable part (``0 <= stable_fen <= total_fen``) and the
    money the gateway takes; the parts add up to the total."""
    if total_fen < 0 or not 0 <= stable_fen <= total_fen:
        raise ValueError(f"cannot pay {stable_fen} of {total_fen} fen in stable points")
    return PaymentPlan(total_fen - stable_fen, stable_fen)


def fixed_contributions(lines: Iterable[OrderLine]) -> tuple[int, int] | None:
    """The lines' fixed pool contributions (per unit × quantity) and the total of the lines
    without one (the engine's ``pool_rate`` applies to those); None if no line has one."""
    fixed, rest, any_fixed = 0, 0, False
    for line in lines:
        if line.pool_contribution_fen is None:
            rest += line.line_total_fen
        else:
            any_fixed = True
            fixed += line.pool_contribution_fen * line.quantity
    return (fixed, rest) if any_fixed else None


def money_part_contribution(contribution_fen: int, money_fen: int, total_fen: int) -> int:
    """The order's contribution scaled to its money part: stable-paid portions add none.
    ``floor(contribution × money / total)``."""
    if total_fen <= 0 or not 0 <= money_fen <= total_fen or contribution_fen < 0:
        raise ValueError("a contribution scales by a money part within a positive total")
    return contribution_fen * money_fen // total_fen


def fill_stable(stable_fen: int, totals: Iterable[int]) -> list[PaymentPlan]:
    """A checkout's stable points spread over its orders, filling each in turn (the orders in
    merchant order): every order's plan adds up to its total, and the stable parts add up to
    ``stable_fen`` (at most the grand total)."""
    left = stable_fen
    out: list[PaymentPlan] = []
    for total in totals:
        part = min(left, total)
        out.append(plan(total, part))
        left -= part
    return out
