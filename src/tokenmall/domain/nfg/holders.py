"""What a buyer's tokens allow at checkout: the SKUs they may buy and the discount they get.

A token counts only while it is ``held``: a listed, locked, redeeming, redeemed or burned token
opens no ``may_buy`` SKU and gives no discount. A SKU named in the ``may_buy`` right of one or
more collections is open to a holder of any of them. At most one discount applies to an order:
the one taking the most off (ties: the lowest collection id, then serial), rounded down, and
never the whole order (the buyer pays at least one fen; a free good is a redemption).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from tokenmall.domain.nfg.rights import discount_off


@dataclass(frozen=True, slots=True)
class HeldDiscount:
    """A held token whose collection carries a ``discount`` right."""

    collection_id: str
    collection_name: str
    serial: int
    discount_bps: int


@dataclass(frozen=True, slots=True)
class Gate:
    """A collection whose ``may_buy`` right names a SKU."""

    collection_id: str
    collection_name: str


@dataclass(frozen=True, slots=True)
class BuyerRights:
    """The rights relevant to one checkout: the gates of its SKUs, the collections the buyer
    holds a token of, and the buyer's held discounts."""

    gates: Mapping[str, tuple[Gate, ...]] = field(default_factory=dict)  # by SKU id
    held: frozenset[str] = frozenset()  # collection ids
    discounts: tuple[HeldDiscount, ...] = ()

    def refused(self, sku_id: str) -> tuple[Gate, ...]:
        """The gates that keep ``sku_id`` from this buyer (empty: they may buy it)."""
        gates = self.gates.get(sku_id, ())
        if any(gate.collection_id in self.held for gate in gates):
            return ()
        return gates


@dataclass(frozen=True, slots=True)
class AppliedDiscount:
    """A discount as an order names it."""

    collection_id: str
    collection_name: str
    serial: int
    discount_bps: int
    off_fen: int


def best_discount(discounts: tuple[HeldDiscount, ...], goods_fen: int) -> AppliedDiscount | None:
    """The one discount an order of ``goods_fen`` gets, or None (none held, or nothing off)."""
    best: AppliedDiscount | None = None
    for held in sorted(discounts, key=lambda d: (d.collection_id, d.serial)):
        off = min(discount_off(goods_fen, held.discount_bps), goods_fen - 1)
        if off > 0 and (best is None or off > best.off_fen):
            best = AppliedDiscount(
                held.collection_id, held.collection_name, held.serial, held.discount_bps, off
            )
    return best
