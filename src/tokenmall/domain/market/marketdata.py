"""Market data from trades and a book, pure: daily OHLC candles (K线), depth, 24-hour volume.

Prices and volumes are fen; a candle's ``key`` is whatever the caller groups by (a date, a
trading-day number), so the service and the replay share the arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Any

from tokenmall.domain.market.book import Book


@dataclass(frozen=True, slots=True)
class Candle:
    key: Hashable
    open: int
    high: int
    low: int
    close: int
    volume: int  # the sum of the prices traded, fen
    trades: int


def candles(trades: Iterable[tuple[Hashable, int]]) -> list[Candle]:
    """One candle per key from ``(key, price)`` pairs in time order; keys in first-seen order."""
    out: dict[Hashable, list[int]] = {}
    for key, price in trades:
        c = out.get(key)
        if c is None:
            out[key] = [price, price, price, price, price, 1]
        else:
            c[1] = max(c[1], price)
            c[2] = min(c[2], price)
            c[3] = price
            c[4] += price
            c[5] += 1
    return [Candle(k, *v) for k, v in out.items()]


def volume_since(trades: Iterable[tuple[Any, int]], since: Any) -> int:
    """The fen traded at or after ``since`` (e.g. 24 hours ago) from ``(when, price)`` pairs."""
    return sum(price for when, price in trades if when >= since)


@dataclass(frozen=True, slots=True)
class Depth:
    """Price levels best first: ``(price, orders)``."""

    bids: tuple[tuple[int, int], ...]
    asks: tuple[tuple[int, int], ...]


def depth(book: Book[Any], levels: int = 10, price: Callable[[Any], int] | None = None) -> Depth:
    """The book's best ``levels`` price levels each side, with how many orders rest there."""
    read = price or (lambda order: order.price)

    def group(orders: Iterable[Any]) -> tuple[tuple[int, int], ...]:
        rows: list[list[int]] = []
        for order in orders:
            p = read(order)
            if rows and rows[-1][0] == p:
                rows[-1][1] += 1
            elif len(rows) == levels:
                break
            else:
                rows.append([p, 1])
        return tuple((p, n) for p, n in rows)

    return Depth(group(book.open_bids()), group(book.open_asks()))
