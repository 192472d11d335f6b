"""Workloads for ``tokenmall bench market``: the market's rules and its book, in memory.

``book_ops_per_second`` runs the order book of one collection with a mix of listings, bids
and cancels at crossing prices (about a third match at once); ``market_actions_per_second``
runs the same mix as ``Market`` actions under the open profile, every action through all of
the rules and settlement, as the service will. Seconds are
wall-clock figures for a person to read; money stays in integers.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

from tokenmall.domain.market import Market, MarketRefused, collection_rules
from tokenmall.domain.market.book import Book

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BookFigures:
    """``book_ops_per_second``: the order book itself (add, match at the best price, fill,
    cancel); ``market_actions_per_second``: the same mix as ``Market`` actions through every
    rule, settlement and effect (what one service action costs in CPU before the database)."""

    operations: int
    book_ops_per_second: float  # float-ok: a rate for reading
    market_actions_per_second: float  # float-ok: a rate for reading
    trades: int
    refused: int

    def report(self) -> dict[str, object]:
        return {
            "book_operations": self.operations,
            "book_ops_per_second": round(self.book_ops_per_second),
            "market_actions_per_second": round(self.market_actions_per_second),
            "market_trades": self.trades,
            "market_refused": self.refused,
        }


def run(operations: int = 200_000, seed: int = 5) -> BookFigures:
    """Both figures for ``operations`` actions."""
    market_rate, trades, refused = market_actions(operations, seed)
    return BookFigures(operations, book_ops_per_second(operations, seed), market_rate, trades,
                       refused)  # fmt: skip


def market_actions(
    operations: int = 200_000, seed: int = 5
) -> tuple[float, int, int]:  # float-ok: a rate
    """``operations`` list/bid/cancel actions (about 4:4:2) on one collection of 20,000
    tokens held by 200 users, each a ``Market`` action with every check and its effects."""
    rng = random.Random(seed)
    market = Market("open")
    tokens = 20_000
    users = [f"u{i}" for i in range(200)]
    rules = collection_rules(
        market.profile, fee_rate=Fraction(2, 100), royalty_rate=Fraction(5, 100)
    )
    market.add_collection("c", "brand", tokens, 10_000, rules)
    free: list[tuple[str, str]] = []  # (owner, token) of tokens not listed
    for i, user in enumerate(users):
        keys = market.mint("c", user, tokens // len(users)).tokens
        free.extend((user, key) for key in keys)
        market.deposit(user, 10**12 + i)
    rolls = [(rng.random(), rng.randrange(9_900, 10_100), rng.randrange(len(users)), rng.random())
             for _ in range(operations)]  # fmt: skip
    resting: list[tuple[str, int]] = []  # (user, order id) that may still rest
    trades = refused = 0
    list_, bid, cancel = market.list, market.bid, market.cancel
    started = time.perf_counter()
    for roll, price, who, pick in rolls:
        try:
            if roll < 0.4 and free:
                owner, key = _take(free, pick)
                out = list_(owner, key, price)
                if out.trades:
                    free.append((out.trades[0].buyer, key))
                else:
                    resting.append((owner, out.order or 0))
            elif roll < 0.8:
                user = users[who]
                out = bid(user, "c", price)
                if out.trades:
                    free.append((user, out.trades[0].token))
                else:
                    resting.append((user, out.order or 0))
            elif resting:
                user, order = _take(resting, pick)
                out = cancel(user, order)
                closed = market.state.orders[order]
                if closed.token is not None:
                    free.append((user, closed.token))
            else:
                continue
            trades += len(out.trades)
        except MarketRefused:
            refused += 1
    elapsed = time.perf_counter() - started
    return operations / elapsed, trades, refused


def _take(items: list[T], pick: float) -> T:  # float-ok: a random draw
    """Remove and return the item at ``pick`` (0 ≤ pick < 1) in O(1): the last one fills the
    hole."""
    i = int(pick * len(items))
    items[i], items[-1] = items[-1], items[i]
    return items.pop()


class _Entry:
    __slots__ = ("status",)

    def __init__(self) -> None:
        self.status = "open"


def book_ops_per_second(operations: int = 200_000, seed: int = 5) -> float:  # float-ok: a rate
    """The order book alone, the same 4:4:2 mix: a listing or bid matches the best opposite
    order (price, then time) when it crosses, else rests; a cancel removes a random resting
    order. No rule is checked (that is ``market_actions``)."""
    rng = random.Random(seed)
    book: Book[_Entry] = Book()
    rolls = [(rng.random(), rng.randrange(9_900, 10_100), rng.random()) for _ in range(operations)]
    live: list[_Entry] = []
    started = time.perf_counter()
    for seq, (roll, price, pick) in enumerate(rolls):
        if roll < 0.4:
            best = book.best_bid()
            if best is not None and book.bids[0][0] <= -price:
                best.status = "filled"
            else:
                entry = _Entry()
                book.add_ask(price, seq, entry)
                live.append(entry)
        elif roll < 0.8:
            best = book.best_ask()
            if best is not None and book.asks[0][0] <= price:
                best.status = "filled"
            else:
                entry = _Entry()
                book.add_bid(price, seq, entry)
                live.append(entry)
        elif live:
            _take(live, pick).status = "cancelled"
    return operations / (time.perf_counter() - started)
