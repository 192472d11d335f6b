"""Rights (权益) as data the mall enforces: ``may_buy``, ``discount``, ``voucher``, ``entry``.

* ``may_buy``: SKUs only holders of the collection may buy (checkout refuses others);
* ``discount``: a rate in basis points (1 = 0.01 %) off an order's goods while a token is held;
  at most one discount an order, named on the order; the discount is rounded down (the buyer
  pays the odd fen);
* ``voucher``: one redemption of a SKU, after which the token is redeemed;
* ``entry``: a right checked in store by scanning the certificate's QR; every use is logged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

MAX_DISCOUNT_BPS = 10_000
MAX_SKUS = 100
MAX_ENTRY_NAME = 100


class RightsInvalid(ValueError):
    """Rights that are not well formed; ``field`` names the part at fault."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True, slots=True)
class Rights:
    may_buy: tuple[str, ...] = ()  # SKU ids
    discount_bps: int | None = None
    voucher_sku_id: str | None = None
    entry: str | None = None  # what the right admits to ("VIP lounge")

    def skus(self) -> tuple[str, ...]:
        """Every SKU the rights name (each must be the tenant's own)."""
        named = list(self.may_buy)
        if self.voucher_sku_id is not None:
            named.append(self.voucher_sku_id)
        return tuple(dict.fromkeys(named))

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {}
        if self.may_buy:
            out["may_buy"] = list(self.may_buy)
        if self.discount_bps is not None:
            out["discount_bps"] = self.discount_bps
        if self.voucher_sku_id is not None:
            out["voucher"] = self.voucher_sku_id
        if self.entry is not None:
            out["entry"] = self.entry
        return out


def parse_rights(raw: object) -> Rights:
    """Rights from their JSON form (``{"may_buy": [...], "discount_bps": 500, "voucher":
    "sku_…", "entry": "…"}``); every key optional, nothing else allowed."""
    if raw is None:
        return Rights()
    if not isinstance(raw, Mapping):
        raise RightsInvalid("rights must be an object", "rights")
    unknown = set(raw) - {"may_buy", "discount_bps", "voucher", "entry"}
    if unknown:
        raise RightsInvalid(f"unknown rights {sorted(unknown)}", f"rights.{sorted(unknown)[0]}")
    may_buy = raw.get("may_buy", [])
    if not isinstance(may_buy, list) or not all(isinstance(s, str) and s for s in may_buy):
        raise RightsInvalid("may_buy must be a list of SKU ids", "rights.may_buy")
    if len(may_buy) > MAX_SKUS:
        raise RightsInvalid(f"may_buy names at most {MAX_SKUS} SKUs", "rights.may_buy")
    discount = raw.get("discount_bps")
    if discount is not None and (
        isinstance(discount, bool)
        or not isinstance(discount, int)
        or not 1 <= discount <= MAX_DISCOUNT_BPS
    ):
        raise RightsInvalid(
            "discount_bps must be a whole number of basis points from 1 to 10000",
            "rights.discount_bps",
        )
    voucher = raw.get("voucher")
    if voucher is not None and (not isinstance(voucher, str) or not voucher):
        raise RightsInvalid("voucher must be a SKU id", "rights.voucher")
    entry = raw.get("entry")
    if entry is not None and (
        not isinstance(entry, str) or not entry.strip() or len(entry) > MAX_ENTRY_NAME
    ):
        raise RightsInvalid(
            f"entry must be a text of 1 to {MAX_ENTRY_NAME} characters", "rights.entry"
        )
    return Rights(
        tuple(dict.fromkeys(may_buy)),
        discount,
        voucher,
        entry.strip() if isinstance(entry, str) else None,
    )


def discount_off(goods: int, discount_bps: int) -> int:
    """The discount on ``goods`` fen at ``discount_bps``: rounded down."""
    return goods * discount_bps // MAX_DISCOUNT_BPS
