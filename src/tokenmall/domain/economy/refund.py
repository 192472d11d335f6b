"""Rule 9's arithmetic: what refunding a booked order takes back (economy.md).

The refunded order's granted points are burned (the buyer's and the referrers'), up to what
each still holds; points of the order already sold, converted or forced out are owed in money
at the prices they left at; the buyer's quota and spend lose what the order added, and quota
already paid out beyond what is left is owed too. The backing pool keeps the contribution, so
the price never falls. ``plan_order_reversal`` reads the state (it is also the admin's
preview); ``take_back`` carries a plan out. The engine and the ledger both use these.

Pure: standard library only, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.errors import RuleViolation


class Exit(NamedTuple):
    """Units of a holder's points that left since the order was booked, and the price they
    left at (fen per unit, exact), oldest first."""

    units: int
    price_num: int
    price_den: int


class GrantBack(NamedTuple):
    """What the refund takes back from one holder the order rewarded (level 0: the buyer)."""

    holder: str
    level: int
    granted: int  # units the order granted
    burned: int  # units burned now (what the holder still has, up to ``granted``)
    gone: int  # units already sold or converted: ``granted - burned``
    gone_debt: int  # fen owed for them, at the prices they left at (rounded up)
    quota_removed: int  # fen of quota the order added (the buyer only)
    quota_used_removed: int  # fen of quota used beyond what stays: paid out already
    overdrawn_debt: int  # fen owed for dividends paid out against the removed quota
    spend_removed: int  # fen of cumulative spend the order added (the buyer only)
    # fen of the holder's dividends that were paid against the removed quota: owed back
    # (``overdrawn_debt``), so no longer counted as received; dividends stay within the quota
    dividends_removed: int = 0

    @property
    def debt(self) -> int:
        return self.gone_debt + self.overdrawn_debt


class OrderReversal(NamedTuple):
    """The whole reversal of a booked order's rewards, figure by figure (the admin's preview)."""

    order_ref: str
    buyer: str
    takes: tuple[GrantBack, ...]
    price_before: tuple[int, int]
    price_after: tuple[int, int]

    @property
    def burned(self) -> int:
        return sum(t.burned for t in self.takes)

    @property
    def debt(self) -> int:
        return sum(t.debt for t in self.takes)


def _owed(units: int, exits: Sequence[Exit], fallback: tuple[int, int]) -> int:
    """Fen owed for ``units`` that left: at the prices of the exits, oldest first; any units
    no exit explains at ``fallback``. Rounded up (a debt rounds in the platform's favour)."""
    owed_num, owed_den, left = 0, 1, units
    for exit_ in exits:
        if left <= 0:
            break
        take = min(left, exit_.units)
        owed_num = owed_num * exit_.price_den + take * exit_.price_num * owed_den
        owed_den *= exit_.price_den
        left -= take
    if left > 0:
        owed_num = owed_num * fallback[1] + left * fallback[0] * owed_den
        owed_den *= fallback[1]
    return -(-owed_num // owed_den)


def plan_order_reversal(
    state: EconomyState,
    *,
    order_ref: str,
    buyer: str,
    grants: Sequence[tuple[str, int, int]],
    quota_added: int,
    spend_added: int,
    exits: Mapping[str, Sequence[Exit]],
    part: tuple[int, int] = (1, 1),
) -> OrderReversal:
    """What refunding a booked order takes back (rule 9); reads ``state``, changes nothing.

    ``grants``: the order's ``(holder, units, level)``, level 0 the buyer. Each holder's
    granted points are burned, up to what they hold; the rest left (sold, converted, forced
    out) and is owed in money at the prices it left at (``exits``; else the current price).
    The buyer's quota and spend lose what the order added; quota already used beyond what is
    left was paid out against the removed quota and is owed too. The backing pool keeps the
    order's contribution, so burning raises the price or keeps it.

    ``part``: the share of the order refunded (refund / amount, at most 1): each figure taken
    back is that share of what the order gave, rounded up (in the platform's favour)."""
    if quota_added < 0 or spend_added < 0:
        raise RuleViolation("an order adds no negative quota or spend")
    num, den = part
    if not 0 < num <= den:
        raise RuleViolation("a refund takes back a share of the order greater than 0, at most 1")

    def share(value: int) -> int:
        return -(-value * num // den)

    grants = [(name, share(units), level) for name, units, level in grants]
    quota_added, spend_added = share(quota_added), share(spend_added)
    price = state.price()
    takes: list[GrantBack] = []
    held: dict[str, int] = {}
    seen_buyer = False
    for name, units, level in grants:
        if units < 0:
            raise RuleViolation(f"a grant of {units} units to {name}")
        h = state.holders.get(name)
        have = held.get(name, 0 if h is None else h.points)
        burned = min(have, units)
        held[name] = have - burned
        gone = units - burned
        quota, used, spend, dividends = 0, 0, 0, 0
        if name == buyer and not seen_buyer:
            seen_buyer = True
            quota, spend = quota_added, spend_added
            if h is not None:
                quota = min(quota, h.quota)
                spend = min(spend, h.spend)
                used = max(0, h.quota_used - (h.quota - quota))
                dividends = min(h.dividends, used)
        takes.append(
            GrantBack(
                holder=name,
                level=level,
                granted=units,
                burned=burned,
                gone=gone,
                gone_debt=_owed(gone, exits.get(name, ()), price) if gone else 0,
                quota_removed=quota,
                quota_used_removed=used,
                overdrawn_debt=used,
                spend_removed=spend,
                dividends_removed=dividends,
            )
        )
    if not seen_buyer and (quota_added or spend_added):
        h = state.holders.get(buyer)
        quota = 0 if h is None else min(quota_added, h.quota)
        used = 0 if h is None else max(0, h.quota_used - (h.quota - quota))
        spend = 0 if h is None else min(spend_added, h.spend)
        dividends = 0 if h is None else min(h.dividends, used)
        takes.append(GrantBack(buyer, 0, 0, 0, 0, 0, quota, used, used, spend, dividends))
    burned = sum(t.burned for t in takes)
    circulating = state.circulating - burned
    after = (state.pool, circulating) if circulating > 0 else price
    return OrderReversal(order_ref, buyer, tuple(takes), price, after)


def take_back(state: EconomyState, plan: OrderReversal) -> int:
    """Carry ``plan`` out on ``state``: burn the points, remove the quota, quota used and
    spend, record the debts (receivables against revenue). Returns the total debt in fen."""
    if plan.burned and state.circulating == plan.burned:
        state.last_price_num, state.last_price_den = plan.price_before
    debt = 0
    for t in plan.takes:
        h = state.holder(t.holder)
        if t.burned:
            h.points -= t.burned
            state.seq += 1
            h.points_seq = state.seq
        h.quota -= t.quota_removed
        h.quota_used -= t.quota_used_removed
        h.dividends -= t.dividends_removed
        h.spend -= t.spend_removed
        if t.quota_removed and h.remaining_quota <= 0:
            h.exited = True
        debt += t.debt
    if plan.burned:
        state.circulating -= plan.burned
        state.burned += plan.burned
    if debt:
        state.receivables += debt
        state.revenue += debt
    return debt
