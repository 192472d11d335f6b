"""Money around the economy: order payments held in escrow, refunds, distribution commissions,
withdrawals and the debts a clawback leaves. None of these changes the price or the points.

economy.md's rules start when an order's rewards are booked (rule 1); a mall also holds money
before that (a paid order waits for its return window: rule 9), pays commissions to referrers
(at most 3 levels, frozen until the order completes) and pays users' cash out to their banks.
Each function here checks first and changes ``state`` only when the whole event is allowed, so
a refused event leaves everything as it was; the ledger turns each result into one journal.

Money identity (checked by ``invariants.violations``)::

    money_in = pool + dividend_pool + revenue + Σ cash + escrow + withdrawing + withdrawn
               + commissions_frozen − receivables

and every user's cash is explained::

    Σ cash = dividends_paid + buybacks_paid + commissions_paid − cash_out
"""

from __future__ import annotations

from typing import NamedTuple

from tokenmall.domain.economy.params import MAX_REFERRAL_LEVELS
from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.errors import InsufficientBalance, InvalidAmount, RuleViolation


def _positive(what: str, amount: int) -> None:
    if amount <= 0:
        raise InvalidAmount(f"{what} must be greater than zero")


# -- orders: money in, held until rewards are booked, refunds -----------------------------------


def receive_payment(state: EconomyState, amount: int) -> None:
    """A gateway paid ``amount`` for an order: it waits in escrow until the rewards are booked
    (or the order is refunded)."""
    _positive("payment amount", amount)
    state.money_in += amount
    state.escrow += amount


def receive_sale(state: EconomyState, amount: int) -> None:
    """A gateway paid ``amount`` for a good sold outright (no rewards booked for it, no return
    window): it is revenue at once."""
    _positive("sale amount", amount)
    state.money_in += amount
    state.revenue += amount


def take_from_escrow(state: EconomyState, amount: int) -> None:
    """Check that escrow holds ``amount`` for a purchase booked from it (before the engine runs)."""
    if amount > state.escrow:
        raise InsufficientBalance(
            f"escrow holds {state.escrow} fen, less than the order's {amount}: "
            "record the payment before booking its rewards"
        )


def booked_from_escrow(state: EconomyState, amount: int) -> None:
    """After the engine booked a purchase (which counts its amount as new money), move that
    amount's origin from the gateway to escrow: it was counted in when it was paid."""
    state.escrow -= amount
    state.money_in -= amount


def refund_payment(state: EconomyState, amount: int) -> None:
    """Refund an order whose rewards are not booked: escrow pays the gateway back (rule 9)."""
    _positive("refund amount", amount)
    if amount > state.escrow:
        raise InsufficientBalance(f"escrow holds {state.escrow} fen, less than the refund {amount}")
    state.escrow -= amount
    state.money_in -= amount


def refund_booked(state: EconomyState, amount: int) -> None:
    """An operator's audited adjustment: refund a booked order out of revenue. The rewards it
    booked stay (rule 9: booked rewards are final; the pool behind the price is not touched)."""
    _positive("refund amount", amount)
    if amount > state.revenue:
        raise InsufficientBalance(
            f"revenue holds {state.revenue} fen, less than the refund {amount}"
        )
    state.revenue -= amount
    state.money_in -= amount


def refund_stable(state: EconomyState, merchant: str, user: str, amount: int) -> None:
    """Return stable points a user paid a merchant with (rule 4) for a refunded order."""
    _positive("refund amount", amount)
    payee = state.holder(merchant)
    if amount > payee.stable:
        raise InsufficientBalance(
            f"{merchant} holds {payee.stable} fen of stable points, less than the refund {amount}"
        )
    payee.stable -= amount
    state.holder(user).stable += amount


# -- distribution commissions -------------------------------------------------------------------


class Commission(NamedTuple):
    holder: str
    amount: int  # fen
    level: int  # 1 the buyer's referrer, 2 that referrer's referrer, 3 …


def commissions_for(
    state: EconomyState, buyer: str, amount: int, rates: tuple[tuple[int, int], ...]
) -> list[Commission]:
    """``floor(amount × rate_k)`` for each referrer level ``k`` of the buyer (at most 3)."""
    out: list[Commission] = []
    holder = state.holders.get(buyer)
    name = None if holder is None else holder.referrer
    for level, (num, den) in enumerate(rates[:MAX_REFERRAL_LEVELS], start=1):
        if name is None:
            break
        fen = amount * num // den
        if fen > 0:
            out.append(Commission(name, fen, level))
        referrer = state.holders.get(name)
        name = None if referrer is None else referrer.referrer
    return out


def freeze_commissions(state: EconomyState, commissions: list[Commission], limit: int) -> int:
    """Set the order's commissions aside from revenue, frozen until the order completes.
    ``limit`` is the order's own revenue: commissions never take more than it left."""
    total = sum(c.amount for c in commissions)
    if total > limit:
        raise RuleViolation(
            f"commissions {total} fen exceed the {limit} fen of revenue the order left"
        )
    if total > state.revenue:
        raise InsufficientBalance(f"revenue holds {state.revenue} fen, less than {total}")
    state.revenue -= total
    state.commissions_frozen += total
    return total


def release_commissions(state: EconomyState, payouts: list[tuple[str, int]]) -> int:
    """The order completed: its frozen commissions go to the referrers' cash balances."""
    total = sum(fen for _, fen in payouts)
    if any(fen <= 0 for _, fen in payouts):
        raise InvalidAmount("a commission must be greater than zero")
    if total > state.commissions_frozen:
        raise InsufficientBalance(
            f"frozen commissions hold {state.commissions_frozen} fen, less than {total}"
        )
    for name, fen in payouts:
        state.holder(name).cash += fen
    state.commissions_frozen -= total
    state.commissions_paid += total
    return total


class Clawback(NamedTuple):
    holder: str
    amount: int  # fen of commission taken back
    from_cash: int  # fen of it taken from the holder's cash balance
    debt: int  # fen the cash could not cover: the holder now owes it (never silently capped)


def clawback_commissions(
    state: EconomyState, frozen: list[tuple[str, int]], paid: list[tuple[str, int]]
) -> tuple[int, list[Clawback]]:
    """The order was refunded: frozen commissions return to revenue; paid ones are taken back
    from the holders' cash, and what their cash cannot cover is recorded as their debt."""
    frozen_total = sum(fen for _, fen in frozen)
    if any(fen <= 0 for _, fen in (*frozen, *paid)):
        raise InvalidAmount("a commission must be greater than zero")
    if frozen_total > state.commissions_frozen:
        raise InsufficientBalance(
            f"frozen commissions hold {state.commissions_frozen} fen, less than {frozen_total}"
        )
    state.commissions_frozen -= frozen_total
    state.revenue += frozen_total
    taken: list[Clawback] = []
    for name, fen in paid:
        holder = state.holder(name)
        from_cash = min(holder.cash, fen)
        holder.cash -= from_cash
        state.cash_out += from_cash
        state.receivables += fen - from_cash
        state.revenue += fen
        taken.append(Clawback(name, fen, from_cash, fen - from_cash))
    return frozen_total, taken


def repay_debt(state: EconomyState, user: str, amount: int) -> None:
    """A user pays ``amount`` of what they owe from their cash balance."""
    _positive("repayment", amount)
    holder = state.holder(user)
    if amount > holder.cash:
        raise InsufficientBalance(f"{user} has {holder.cash} fen of cash, less than {amount}")
    if amount > state.receivables:
        raise RuleViolation(f"debts outstanding are {state.receivables} fen, less than {amount}")
    holder.cash -= amount
    state.cash_out += amount
    state.receivables -= amount


# -- withdrawals --------------------------------------------------------------------------------


def hold_withdrawal(state: EconomyState, user: str, amount: int) -> None:
    """A withdrawal was requested: the cash is held (not spendable) until approved or refused."""
    _positive("withdrawal amount", amount)
    holder = state.holder(user)
    if amount > holder.cash:
        raise InsufficientBalance(
            f"{user} has {holder.cash} fen of cash, less than the withdrawal {amount}"
        )
    holder.cash -= amount
    state.cash_out += amount
    state.withdrawing += amount


def pay_withdrawal(state: EconomyState, amount: int) -> None:
    """An approved withdrawal was paid out to the user's bank."""
    _positive("withdrawal amount", amount)
    if amount > state.withdrawing:
        raise InsufficientBalance(
            f"withdrawals held are {state.withdrawing} fen, less than {amount}"
        )
    state.withdrawing -= amount
    state.withdrawn += amount


def release_withdrawal(state: EconomyState, user: str, amount: int) -> None:
    """A refused (or cancelled) withdrawal: the held cash returns to the user."""
    _positive("withdrawal amount", amount)
    if amount > state.withdrawing:
        raise InsufficientBalance(
            f"withdrawals held are {state.withdrawing} fen, less than {amount}"
        )
    state.withdrawing -= amount
    state.cash_out -= amount
    state.holder(user).cash += amount
