"""Reversing a journal: the arithmetic of an operator's correction.

A reversal posts the negation of an earlier journal's postings and moves every balance those
postings mirror by the same amount, so the books and the aggregates stay one. Only postings are
undone, never the engine's history: spend, quota and dividends stay as booked, and a reversed
mint is a burn (``minted`` and ``burned`` only grow; ``circulating`` comes back).

``reverse`` refuses, and leaves the state exactly as it was, when the journal's code is not
``REVERSIBLE``, when a posting goes to an account no reversal may move, when the price would
fall (booked rewards are final: reversing a purchase or a buyback is refused unless the price
stays) or when a balance would go negative (what the journal gave was spent since).

``plan_order_reversal`` and ``apply_order_reversal`` take back what a booked order gave when
it is refunded (economy.md rule 9): its granted points burned, its quota and spend removed,
debts for what already left; the plan is also the admin's preview.

Pure: standard library only, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, NamedTuple

from tokenmall.domain.economy.invariants import price_not_below
from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.errors import DomainError, InsufficientBalance, RuleViolation
from tokenmall.domain.ledger import accounts as acc
from tokenmall.domain.ledger import from_economy as fe
from tokenmall.domain.ledger.accounts import AccountKind
from tokenmall.domain.ledger.codes import REVERSIBLE, JournalCode
from tokenmall.domain.ledger.journal import Line, Posting
from tokenmall.domain.money import format_money, format_points, format_price

# The aggregates a reversal may move, and those of them that must never go negative.
MOVED_AGGREGATES = (
    "pool",
    "dividend_pool",
    "revenue",
    "treasury",
    "stable_outstanding",
    "circulating",
    "minted",
    "burned",
    "money_in",
    "buybacks_paid",
)
NEVER_NEGATIVE = (
    "pool",
    "dividend_pool",
    "revenue",
    "treasury",
    "stable_outstanding",
    "circulating",
    "money_in",
    "buybacks_paid",
)
HOLDER_BALANCES = ("points", "cash", "stable")


def reverse(
    state: EconomyState, code: JournalCode, postings: Iterable[Posting], journal_id: int
) -> tuple[list[Line], list[str]]:
    """Undo the ``postings`` of journal ``journal_id`` (its ``code``) in ``state``.

    Returns the reversing lines (each posting negated, in order) and the names of the holders
    they touch, sorted. Every holder a posting names must already be in ``state.holders``.
    Raises ``RuleViolation`` or ``InsufficientBalance`` and changes nothing when refused."""
    if code not in REVERSIBLE:
        raise RuleViolation(f"a {code} journal cannot be reversed")
    negated = fe.reversal_lines(postings)
    touched = sorted({account.holder for account, _ in negated if account.holder})
    aggregates = {name: getattr(state, name) for name in MOVED_AGGREGATES}
    balances = {
        holder: tuple(getattr(state.holders[holder], name) for name in HOLDER_BALANCES)
        for holder in touched
    }
    before = state.price()
    try:
        _move(state, negated, code)
        if not price_not_below(before, state.price()):
            raise RuleViolation(
                f"reversing journal {journal_id} would lower the price; booked rewards are "
                "final (an operator adjustment must not move the price down)"
            )
        _check_not_negative(state, touched, journal_id)
    except DomainError:
        for name, value in aggregates.items():
            setattr(state, name, value)
        for holder, values in balances.items():
            for name, value in zip(HOLDER_BALANCES, values, strict=True):
                setattr(state.holders[holder], name, value)
        raise
    return negated, touched


def _check_not_negative(state: EconomyState, touched: Sequence[str], journal_id: int) -> None:
    for name in NEVER_NEGATIVE:
        if getattr(state, name) < 0:
            raise InsufficientBalance(
                f"reversing journal {journal_id} would make the {name} negative"
            )
    for holder in touched:
        h = state.holders[holder]
        for name in HOLDER_BALANCES:
            if getattr(h, name) < 0:
                raise InsufficientBalance(
                    f"reversing journal {journal_id} would make {holder}'s {name} negative "
                    "(it was spent since)"
                )


def _move(state: EconomyState, lines: Sequence[Line], original: JournalCode) -> None:
    """Move the negated postings into the balances they mirror."""
    for account, amount in lines:
        kind = account.kind
        if kind is AccountKind.USER_POINTS:
            state.holders[account.holder].points += amount
        elif kind is AccountKind.USER_CASH:
            state.holders[account.holder].cash += amount
            if original in (JournalCode.BUYBACK, JournalCode.FORCED_EXIT):
                state.buybacks_paid += amount
        elif kind is AccountKind.USER_STABLE:
            state.holders[account.holder].stable += amount
        elif kind is AccountKind.BACKING_POOL:
            state.pool += amount
        elif kind is AccountKind.DIVIDEND_POOL:
            state.dividend_pool += amount
        elif kind is AccountKind.REVENUE:
            state.revenue += amount
        elif kind is AccountKind.GATEWAY_CLEARING:
            state.money_in -= amount
        elif kind is AccountKind.TREASURY:
            state.treasury += amount
        elif kind is AccountKind.STABLE_SUPPLY:
            state.stable_outstanding -= amount
        elif kind is AccountKind.SUPPLY:
            # Supply postings are minus what circulates: a positive one burns, a negative mints.
            if amount > 0:
                state.burned += amount
            else:
                state.minted -= amount
            state.circulating -= amount
        else:
            raise RuleViolation(f"cannot reverse a posting to {kind}")


# -- a booked order refunded (rule 9) -----------------------------------------------------------


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
        quota, used, spend = 0, 0, 0
        if name == buyer and not seen_buyer:
            seen_buyer = True
            quota, spend = quota_added, spend_added
            if h is not None:
                quota = min(quota, h.quota)
                spend = min(spend, h.spend)
                used = max(0, h.quota_used - (h.quota - quota))
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
            )
        )
    if not seen_buyer and (quota_added or spend_added):
        h = state.holders.get(buyer)
        quota = 0 if h is None else min(quota_added, h.quota)
        used = 0 if h is None else max(0, h.quota_used - (h.quota - quota))
        spend = 0 if h is None else min(spend_added, h.spend)
        takes.append(GrantBack(buyer, 0, 0, 0, 0, 0, quota, used, used, spend))
    burned = sum(t.burned for t in takes)
    circulating = state.circulating - burned
    after = (state.pool, circulating) if circulating > 0 else price
    return OrderReversal(order_ref, buyer, tuple(takes), price, after)


def apply_order_reversal(state: EconomyState, plan: OrderReversal) -> list[Line]:
    """Carry ``plan`` out on ``state`` and return its balanced lines: the points burned
    (holder to supply), the debts (receivables against revenue). The pool is not touched."""
    lines: list[Line] = []
    if plan.burned and state.circulating == plan.burned:
        state.last_price_num, state.last_price_den = plan.price_before
    debt = 0
    for t in plan.takes:
        h = state.holder(t.holder)
        if t.burned:
            h.points -= t.burned
            state.seq += 1
            h.points_seq = state.seq
            lines.append((acc.points(t.holder), -t.burned))
        h.quota -= t.quota_removed
        h.quota_used -= t.quota_used_removed
        h.spend -= t.spend_removed
        if t.quota_removed and h.remaining_quota <= 0:
            h.exited = True
        debt += t.debt
    if plan.burned:
        state.circulating -= plan.burned
        state.burned += plan.burned
        lines.append((acc.SUPPLY, plan.burned))
    if debt:
        state.receivables += debt
        state.revenue += debt
        lines.append((acc.RECEIVABLES, -debt))
        lines.append((acc.REVENUE, debt))
    return lines


def order_reversal_result(plan: OrderReversal) -> dict[str, Any]:
    """The reversal as JSON-safe figures: the journal's result and the admin's preview."""
    return {
        "order_ref": plan.order_ref,
        "buyer": plan.buyer,
        "holders": [
            {
                "holder": t.holder,
                "level": t.level,
                "points_granted": format_points(t.granted),
                "points_burned": format_points(t.burned),
                "points_gone": format_points(t.gone),
                "debt_for_points_gone": format_money(t.gone_debt),
                "quota_removed": format_money(t.quota_removed),
                "quota_used_removed": format_money(t.quota_used_removed),
                "debt_for_dividends": format_money(t.overdrawn_debt),
                "spend_removed": format_money(t.spend_removed),
                "debt": format_money(t.debt),
            }
            for t in plan.takes
        ],
        "points_burned": format_points(plan.burned),
        "debt": format_money(plan.debt),
        "price_before": format_price(*plan.price_before),
        "price": format_price(*plan.price_after),
    }
