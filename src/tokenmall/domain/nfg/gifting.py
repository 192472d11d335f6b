"""When a token may be given (转赠): after the tenant's hold period since it was acquired.

The hold period is whole days (``gift_hold_days``, 0 = at once) counted from the moment the
owner acquired the token (minted to them, bought, or given to them).
"""

from __future__ import annotations

from datetime import datetime, timedelta

MAX_GIFT_HOLD_DAYS = 3_650


def transferable_at(acquired_at: datetime, hold_days: int) -> datetime:
    """The first moment a token acquired at ``acquired_at`` may be given."""
    if hold_days < 0:
        raise ValueError("a hold period is 0 days or more")
    return acquired_at + timedelta(days=hold_days)


def may_transfer(acquired_at: datetime, hold_days: int, now: datetime) -> bool:
    return now >= transferable_at(acquired_at, hold_days)
