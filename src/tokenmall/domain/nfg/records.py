"""The records of the NFG registry: collections, tokens, reservations, right uses.

Amounts are integers of minor units: fen for money and stable points, 1e-8 point for equity
points (``domain/money.py``). A token's key is ``{collection_id}/{serial}``; it is displayed
``#serial/edition_size``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from tokenmall.domain.nfg.rights import Rights

MAX_EDITION_SIZE = 1_000_000
MAX_PER_USER_LIMIT = 1_000


class PriceAsset(StrEnum):
    """What pays a collection's primary sale."""

    MONEY = "money"  # through the payment gateway, in fen
    STABLE = "stable"  # 恒定积分, in fen
    EQUITY = "equity"  # 增值积分, in 1e-8 point; bought back and burned by rule 2


class CollectionStatus(StrEnum):
    DRAFT = "draft"  # being set up: not on sale, editable
    PUBLISHED = "published"  # visible; on sale inside its window
    CLOSED = "closed"  # no more primary sales


class TokenState(StrEnum):
    HELD = "held"
    LISTED = "listed"  # on the market (market.md)
    LOCKED = "locked"  # held back: in an agreement, a dispute, a hold
    REDEEMING = "redeeming"  # a redemption's shipping order is open
    REDEEMED = "redeemed"  # delivered: burned
    BURNED = "burned"


class ReservationStatus(StrEnum):
    RESERVED = "reserved"  # a place in the drop, waiting for payment
    ASSIGNED = "assigned"  # paid; its tokens are minted to the buyer
    EXPIRED = "expired"  # not paid in time; its places returned to sale
    REFUNDED = "refunded"  # paid but no token could be given (paid after expiry): refunded


@dataclass(frozen=True, slots=True)
class Collection:
    tenant_id: str
    collection_id: str
    name: str
    description: str
    issuer_merchant_id: str | None  # None: the tenant itself
    edition_size: int
    price: int  # minor units of ``price_asset``
    price_asset: PriceAsset
    per_user_limit: int
    rights: Rights
    status: CollectionStatus
    created_at: datetime
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None
    allow_list_only: bool = False
    linked_sku_id: str | None = None
    media_id: str | None = None
    reserved: int = 0  # places taken by open reservations
    minted: int = 0  # serials given out (1..minted); never more than edition_size
    burned: int = 0

    @property
    def available(self) -> int:
        """Places still for sale: never minted, not held by an open reservation."""
        return self.edition_size - self.minted - self.reserved

    def on_sale(self, now: datetime) -> bool:
        if self.status != CollectionStatus.PUBLISHED:
            return False
        if self.sale_starts_at is not None and now < self.sale_starts_at:
            return False
        return self.sale_ends_at is None or now < self.sale_ends_at


@dataclass(frozen=True, slots=True)
class Token:
    tenant_id: str
    collection_id: str
    serial: int
    owner_id: str
    state: TokenState
    acquired_at: datetime
    # when it was minted or last bought (a gift does not change it); None: as ``acquired_at``
    traded_at: datetime | None = None

    @property
    def key(self) -> str:
        return token_key(self.collection_id, self.serial)


@dataclass(frozen=True, slots=True)
class Reservation:
    tenant_id: str
    reservation_id: str
    collection_id: str
    user_id: str
    quantity: int
    amount: int  # minor units of the collection's price asset, for the whole quantity
    asset: PriceAsset
    status: ReservationStatus
    created_at: datetime
    expires_at: datetime
    payment_id: str | None = None
    serials: tuple[int, ...] = field(default_factory=tuple)


def token_key(collection_id: str, serial: int) -> str:
    return f"{collection_id}/{serial}"


def parse_token_key(key: str) -> tuple[str, int] | None:
    """``(collection_id, serial)`` of ``col_…/17``, or None if it is not a token key."""
    collection_id, slash, serial = key.rpartition("/")
    if not slash or not collection_id or not serial.isdecimal() or not serial.isascii():
        return None
    number = int(serial)
    return (collection_id, number) if 1 <= number <= MAX_EDITION_SIZE else None
