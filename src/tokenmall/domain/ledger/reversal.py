"""Reversing a journal: the arithmetic of an operator's correction.

A reversal posts the negation of an earlier journal's postings and moves every balance those
postings mirror by the same amount, so the books and the aggregates stay one. Only postings are
undone, never the engine's history: spend, quota and dividends stay as booked, and a reversed
mint is a burn (``minted`` and ``burned`` only grow; ``circulating`` comes back).

``reverse`` refuses, and leaves the state exactly as it was, when the journal's code is not
``REVERSIBLE``, when a posting goes to an account no reversal may move, when the price would
fall (booked rewards are final: reversing a purchase or a buyback is refused unless the price
stays) or when a balance would go negative (what the journal gave was spent since).

``apply_order_reversal`` takes back what a booked order gave when it is refunded (economy.md
rule 9, planned by ``domain.economy.refund.plan_order_reversal``, also the admin's preview) and
returns the balanced lines of that journal.

Pure: standard library only, no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenmall.domain.economy.invariants import price_not_below
from tokenmall.domain.economy.refund import OrderReversal, take_back
from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.errors import DomainError, InsufficientBalance, RuleViolation
from tokenmall.domain.ledger import accounts as acc
from tokenmall.domain.ledger import from_economy as fe
from tokenmall.domain.ledger.accounts import AccountKind
from tokenmall.domain.ledger.codes import REVERSIBLE, JournalCode
from tokenmall.domain.ledger.journal import Line, Posting

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


def apply_order_reversal(state: EconomyState, plan: OrderReversal) -> list[Line]:
    """Carry ``plan`` out on ``state`` (``take_back``) and return its balanced lines: the
    points burned (holder to supply), the debts (receivables against revenue). The pool is
    not touched."""
    debt = take_back(state, plan)
    lines: list[Line] = [(acc.points(t.holder), -t.burned) for t in plan.takes if t.burned]
    if plan.burned:
        lines.append((acc.SUPPLY, plan.burned))
    if debt:
        lines.append((acc.RECEIVABLES, -debt))
        lines.append((acc.REVENUE, debt))
    return lines
