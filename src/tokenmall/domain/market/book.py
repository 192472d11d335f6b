"""One collection's order book: listings (asks) and bids, best price first, then the earliest.

Heaps with lazy removal: a cancelled or filled order stays in its heap until it reaches the
top, where ``best_ask``/``best_bid`` drop it. Whether an order still rests is its own business
(its ``status``), so the book never holds a second copy of an order's status.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar


class HasStatus(Protocol):
    """What the book reads of an order: it rests while ``status == "open"``."""

    @property
    def status(self) -> str: ...


OrderT = TypeVar("OrderT", bound=HasStatus)


class Book(Generic[OrderT]):
    """Asks ``(price, seq, order)`` min-first; bids ``(-price, seq, order)``. ``seq`` (the
    order id) breaks ties: earlier first. An order rests while its ``status`` is ``"open"``."""

    __slots__ = ("asks", "bids")

    def __init__(self) -> None:
        self.asks: list[tuple[int, int, OrderT]] = []
        self.bids: list[tuple[int, int, OrderT]] = []

    def add_ask(self, price: int, seq: int, order: OrderT) -> None:
        heapq.heappush(self.asks, (price, seq, order))

    def add_bid(self, price: int, seq: int, order: OrderT) -> None:
        heapq.heappush(self.bids, (-price, seq, order))

    def best_ask(self) -> OrderT | None:
        """The resting listing with the lowest price (earliest on a tie), or None."""
        asks = self.asks
        while asks:
            order = asks[0][2]
            if order.status == "open":
                return order
            heapq.heappop(asks)
        return None

    def best_bid(self) -> OrderT | None:
        """The resting bid with the highest price (earliest on a tie), or None."""
        bids = self.bids
        while bids:
            order = bids[0][2]
            if order.status == "open":
                return order
            heapq.heappop(bids)
        return None

    def open_asks(self) -> Iterator[OrderT]:
        """Resting listings in priority order (for depth and checks; sorts a copy)."""
        return (entry[2] for entry in sorted(self.asks) if entry[2].status == "open")

    def open_bids(self) -> Iterator[OrderT]:
        return (entry[2] for entry in sorted(self.bids) if entry[2].status == "open")
