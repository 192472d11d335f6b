"""The market's state as plain records: accounts, collections, tokens, orders, holding marks.

``MarketState`` is everything one action may read or change. The replay keeps one for a whole
run; the service loads the slice an action needs (the users' accounts, the token, the
collection with its open orders and marks) into a fresh one, applies the action through
``Market`` and persists the ``effects`` it returns. Money is fen; days are ``Clock`` numbers.

What an action reads (load it; what is not loaded counts as empty):

- every action: ``clock`` (``TenantCalendar.clock(today)``), the named users' ``accounts``;
- list, offer, gift: the token, its collection (with ``holders`` and today's ``reference``),
  the token's open orders (``add_order``) so an owner change cancels them;
- list and bid: the best opposite order only (a bid meets the lowest listing, a listing the
  highest bid; the earliest on a tie), with its user's account and T+N ``holds`` and, for a
  listing, its token: one order matches at most one;
- take, accept, cancel: the order (``add_order``), its token and collection, both users'
  accounts and ``holds``, the token's other open orders;
- ``next_order_id``: the next id the database will give (``add_order`` keeps it ahead).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from tokenmall.domain.market.book import Book
from tokenmall.domain.market.calendar import Clock
from tokenmall.domain.market.profiles import CollectionRules
from tokenmall.domain.nfg.records import TokenState


class OrderKind(StrEnum):
    LISTING = "listing"  # 挂单: one token for sale at a price (locks the token)
    BID = "bid"  # 求购: any one token of a collection at a price (reserves the cash)
    OFFER = "offer"  # 协议转让: one token to one named buyer at a price


class OrderStatus(StrEnum):
    OPEN = "open"
    FILLED = "filled"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


@dataclass(slots=True)
class Order:
    """One order. ``token`` for listings and offers; ``to`` (the named buyer) for offers;
    ``expires_day``: the calendar day from which it no longer trades (None: never)."""

    id: int
    kind: OrderKind
    user: str
    collection: str
    price: int
    token: str | None = None
    to: str | None = None
    status: OrderStatus = OrderStatus.OPEN
    expires_day: int | None = None


@dataclass(slots=True)
class Account:
    """A user's market cash: ``cash`` is available, ``reserved`` is held by open bids."""

    cash: int = 0
    reserved: int = 0
    kyc: bool = False


@dataclass(slots=True)
class Token:
    """A token on the market. ``acquired_day`` (calendar) starts the gift hold;
    ``acquired_trading_day`` starts the per-token trading hold (open profile)."""

    key: str
    collection: str
    serial: int
    owner: str
    state: TokenState = TokenState.HELD
    acquired_day: int = 1
    acquired_trading_day: int = 1


@dataclass(slots=True)
class CollectionState:
    """A collection on the market. ``reference`` is today's reference price (the last trade
    before today, else ``primary_price``); ``holders`` every user who ever held one of it;
    ``reserving`` the buyers of its primary sale's open reservations (outside the market), who
    take a holder place as well."""

    id: str
    issuer: str
    editions: int
    primary_price: int
    rules: CollectionRules
    minted: int = 0
    halted: bool = False
    last_price: int | None = None
    reference: int = 0
    holders: set[str] = field(default_factory=set)
    reserving: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if not self.reference:
            self.reference = self.last_price or self.primary_price


@dataclass(slots=True)
class HoldMarks:
    """T+N marks of one user in one collection (cn-licensed): the trading day of their last
    acquisition by trade or mint, and of their last sale."""

    bought: int | None = None
    sold: int | None = None


@dataclass(frozen=True, slots=True)
class Trade:
    """A settled trade: the buyer paid ``price``; ``fee`` to the platform, ``royalty`` to the
    issuer, the rest to the seller. ``order`` is the resting order it filled."""

    token: str
    seller: str
    buyer: str
    price: int
    fee: int
    royalty: int
    order: int
    collection: str
    issuer: str


@dataclass(slots=True)
class MarketState:
    clock: Clock = field(default_factory=Clock)
    accounts: dict[str, Account] = field(default_factory=dict)
    collections: dict[str, CollectionState] = field(default_factory=dict)
    tokens: dict[str, Token] = field(default_factory=dict)
    orders: dict[int, Order] = field(default_factory=dict)
    books: dict[str, Book[Order]] = field(default_factory=dict)
    holds: dict[tuple[str, str], HoldMarks] = field(default_factory=dict)
    platform: int = 0
    issuers: dict[str, int] = field(default_factory=dict)
    next_order_id: int = 1
    by_token: dict[str, list[int]] = field(default_factory=dict)  # token -> its order ids

    def account(self, user: str) -> Account:
        """The user's account; a user never seen has 0 cash and no KYC (not stored until an
        action changes it)."""
        return self.accounts.get(user) or Account()

    def marks(self, user: str, collection: str) -> HoldMarks:
        return self.holds.get((user, collection)) or HoldMarks()

    def book(self, collection: str) -> Book[Order]:
        book = self.books.get(collection)
        if book is None:
            book = self.books[collection] = Book()
        return book

    def add_order(self, order: Order) -> None:
        """Put a loaded (or new) open order in place: listings and bids into the book."""
        self.orders[order.id] = order
        self.next_order_id = max(self.next_order_id, order.id + 1)
        if order.token is not None:
            self.by_token.setdefault(order.token, []).append(order.id)
        if order.status is OrderStatus.OPEN and order.kind is not OrderKind.OFFER:
            book = self.book(order.collection)
            if order.kind is OrderKind.LISTING:
                book.add_ask(order.price, order.id, order)
            else:
                book.add_bid(order.price, order.id, order)
