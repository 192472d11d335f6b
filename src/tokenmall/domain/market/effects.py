"""What an action did, as a list of effects a service can persist one by one.

Every ``Market`` action returns an ``Outcome``: its ``effects`` in the order they happened,
plus what the caller shows (the new order's id, the trades, the minted tokens). The effects
are complete: applying them to the stored slice gives the state the market now holds, so the
service never re-derives a rule. Money moves are balanced pairs of accounts (a ledger journal
each); amounts are fen. Effects are read-only by convention (plain slotted dataclasses: a
frozen one costs a microsecond more to make, and a trade makes a dozen).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TypeAlias, TypeVar

from tokenmall.domain.market.records import Order, OrderStatus, Trade
from tokenmall.domain.nfg.records import TokenState


class Purse(StrEnum):
    """Kinds of money account the market moves between."""

    CASH = "cash"  # a user's available market cash
    RESERVED = "reserved"  # a user's cash held by open bids
    PLATFORM = "platform"  # fees
    ISSUER = "issuer"  # royalties, per issuer
    OUTSIDE = "outside"  # deposits come from (and withdrawals go to) the payment gateway


@dataclass(slots=True)
class Money:
    """``amount`` fen from ``source`` to ``dest``; each is ``(purse, owner)`` (owner "" for
    the platform and the outside)."""

    source: tuple[Purse, str]
    dest: tuple[Purse, str]
    amount: int
    why: str  # deposit, reserve, release, trade, fee, royalty


@dataclass(slots=True)
class OwnerChanged:
    token: str
    previous: str | None  # None: minted
    owner: str
    via: str  # mint, trade, gift
    calendar_day: int
    trading_day: int  # the settlement trading day (starts the per-token hold)


@dataclass(slots=True)
class TokenStateChanged:
    token: str
    state: TokenState


@dataclass(slots=True)
class OrderOpened:
    """A new open order (a snapshot: the live ``Order`` may change later)."""

    id: int
    kind: str
    user: str
    collection: str
    price: int
    token: str | None
    to: str | None
    expires_day: int | None

    @classmethod
    def of(cls, order: Order) -> OrderOpened:
        return cls(
            order.id, order.kind.value, order.user, order.collection, order.price,
            order.token, order.to, order.expires_day,
        )  # fmt: skip


@dataclass(slots=True)
class OrderClosed:
    id: int
    status: OrderStatus  # filled, cancelled or expired
    reason: str  # filled, cancelled, owner_changed, expired


@dataclass(slots=True)
class Traded:
    trade: Trade


@dataclass(slots=True)
class HolderAdded:
    """``user`` now counts among the collection's holders (ever held)."""

    collection: str
    user: str


@dataclass(slots=True)
class HoldMarked:
    """T+N mark (cn-licensed): ``side`` "bought" or "sold" on ``trading_day``."""

    user: str
    collection: str
    side: str
    trading_day: int


@dataclass(slots=True)
class CollectionChanged:
    """A collection was created or changed: halted, last price, minted count."""

    collection: str
    halted: bool
    last_price: int | None
    minted: int


@dataclass(slots=True)
class KycVerified:
    user: str


@dataclass(slots=True)
class DayStarted:
    calendar_day: int
    trading_day: int
    trading: bool


Effect: TypeAlias = (
    Money
    | OwnerChanged
    | TokenStateChanged
    | OrderOpened
    | OrderClosed
    | Traded
    | HolderAdded
    | HoldMarked
    | CollectionChanged
    | KycVerified
    | DayStarted
)


E = TypeVar("E")


@dataclass(slots=True)
class Outcome:
    """What one accepted action did. ``order``: the id of the order it opened, if any;
    ``trades``: the trades it settled; ``tokens``: the tokens it minted."""

    effects: tuple[Effect, ...]
    order: int | None = None
    trades: tuple[Trade, ...] = ()
    tokens: tuple[str, ...] = ()

    def of_type(self, kind: type[E]) -> list[E]:
        """The effects of one type, in order."""
        return [e for e in self.effects if isinstance(e, kind)]
