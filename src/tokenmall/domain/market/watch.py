"""The wash-trade watch: a trade between users linked in the referral tree (one the other's
referrer within ``levels`` levels) is allowed but flagged for the operator."""

from __future__ import annotations

from collections.abc import Callable

WATCH_LEVELS = 3


def linked(a: str, b: str, referrer_of: Callable[[str], str | None],
           levels: int = WATCH_LEVELS) -> bool:  # fmt: skip
    """Whether ``a`` is among ``b``'s referrers within ``levels`` levels, or ``b`` among
    ``a``'s. ``referrer_of(user)`` is the user who invited them (None: nobody)."""
    return _above(a, b, referrer_of, levels) or _above(b, a, referrer_of, levels)


def _above(upper: str, user: str, referrer_of: Callable[[str], str | None], levels: int) -> bool:
    current: str | None = user
    for _ in range(levels):
        current = referrer_of(current) if current is not None else None
        if current is None:
            return False
        if current == upper:
            return True
    return False
