"""Trading days. The market's rules count two kinds of day: calendar days (the gift hold) and
trading days (T+N, the price band's reference). ``Clock`` is where the market is now, as two
integers; ``TenantCalendar`` turns real dates into a ``Clock`` (weekends and the tenant's
holidays closed), so the service and the replay share every rule that reads the clock.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

# Trading days are counted from this Monday; only differences between them matter.
EPOCH = date(2000, 1, 3)

# The market's business day is Beijing time.
MARKET_TZ = timezone(timedelta(hours=8), "Asia/Shanghai")


def business_day(now: datetime) -> date:
    """The market's date at ``now`` (an aware time)."""
    return now.astimezone(MARKET_TZ).date()


def calendar_day(day: date) -> int:
    """``Clock.calendar_day`` of ``day``: an order whose ``expires_day`` is at most this no
    longer trades."""
    return (day - EPOCH).days + 1


@dataclass(frozen=True, slots=True)
class Clock:
    """``calendar_day`` counts every day; ``trading_day`` is the number of the current trading
    day, or (on a non-trading day) of the last one before it. The replay starts at
    ``Clock(1, 1, True)``."""

    calendar_day: int = 1
    trading_day: int = 1
    trading: bool = True

    def next_day(self, trading: bool = True) -> Clock:
        """The next calendar day, a trading day or not."""
        return Clock(self.calendar_day + 1, self.trading_day + (1 if trading else 0), trading)

    @property
    def settlement_day(self) -> int:
        """The trading day an acquisition or a sale counts for: today if it trades, else the
        next trading day (a holding period never starts earlier than it could have)."""
        return self.trading_day if self.trading else self.trading_day + 1


@dataclass(frozen=True, slots=True)
class TenantCalendar:
    """Weekends are closed, and so are the tenant's ``holidays``; weekends in ``workdays``
    (调休) are open."""

    holidays: frozenset[date] = frozenset()
    workdays: frozenset[date] = frozenset()

    @classmethod
    def of(cls, days: Iterable[tuple[date, bool]]) -> TenantCalendar:
        """From the tenant's rows ``(day, workday)``: a closed day, or a weekend day that
        trades (调休)."""
        rows = list(days)
        return cls(
            holidays=frozenset(d for d, work in rows if not work),
            workdays=frozenset(d for d, work in rows if work),
        )

    def is_trading(self, day: date) -> bool:
        if day in self.holidays:
            return False
        return day.weekday() < 5 or day in self.workdays

    def trading_days_through(self, day: date) -> int:
        """How many trading days from ``EPOCH`` to ``day``, both included."""
        span = (day - EPOCH).days + 1
        if span <= 0:
            return 0
        weeks, rest = divmod(span, 7)
        count = weeks * 5 + min(rest, 5)  # EPOCH is a Monday
        count -= sum(1 for h in self.holidays if EPOCH <= h <= day and h.weekday() < 5)
        count += sum(1 for w in self.workdays if EPOCH <= w <= day and w.weekday() >= 5)
        return count

    def clock(self, day: date) -> Clock:
        """The market's clock on ``day``."""
        return Clock(
            calendar_day=calendar_day(day),
            trading_day=self.trading_days_through(day),
            trading=self.is_trading(day),
        )

    def add_trading_days(self, day: date, n: int) -> date:
        """The ``n``-th trading day after ``day`` (for "sellable from" hints)."""
        current = day
        while n > 0:
            current += timedelta(days=1)
            if self.is_trading(current):
                n -= 1
        return current
