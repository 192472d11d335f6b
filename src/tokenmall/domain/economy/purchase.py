"""Rule 1, the purchase: a paid order's money funds the pools and mints points at the old price.

With ``p`` the price before the order (fen per unit), the buyer receives
``floor(grant_rate × contribution / p)`` units and each referrer level ``k``
``floor(referral_rates[k] × contribution / p)``, all capped by what is left of ``max_supply``.
Because ``grant_rate + Σ referral_rates <= 1``, the points minted are worth at most the
contribution at ``p``, so the price after is at least ``p``.
"""

from __future__ import annotations

from fractions import Fraction
from typing import NamedTuple

from tokenmall.domain.economy.params import MAX_REFERRAL_LEVELS, Params
from tokenmall.domain.economy.state import EconomyState, Holder, Rates
from tokenmall.domain.errors import InvalidAmount
from tokenmall.domain.money import format_money, format_rate


class Grant(NamedTuple):
    holder: str
    units: int
    level: int  # 0 the buyer, 1 the direct referrer, 2 the referrer's referrer…


class PurchaseResult(NamedTuple):
    """What one booked purchase did. A named tuple: it is built on the hot path."""

    buyer: str
    amount: int  # fen
    contribution: int  # fen into the backing pool
    dividend: int  # fen into the dividend pool
    revenue: int  # fen left for the merchant and the platform
    quota_added: int  # fen
    grants: tuple[Grant, ...]
    price_num: int  # the price the points were granted at
    price_den: int

    @property
    def minted(self) -> int:
        return sum(grant.units for grant in self.grants)


def contribution_for(rates: Rates, amount: int, fixed: int | None) -> int:
    if fixed is None:
        return amount * rates.pool[0] // rates.pool[1]
    if fixed < 0:
        raise InvalidAmount("contribution must not be negative")
    if fixed > amount:
        raise InvalidAmount("contribution must not exceed the order's amount")
    return fixed


def booking_take(params: Params, amount: int) -> int:
    """What booking ``amount`` takes besides the pool contribution, at most: the dividend share
    ``floor(amount × dividend_rate)`` (rule 1) and, for a buyer with referrers at every level,
    each money commission ``floor(amount × rate_k)`` (``cashflow.commissions_for``), which the
    order's revenue must cover."""
    rates = (params.dividend_rate, *params.commission_rates[:MAX_REFERRAL_LEVELS])
    return sum(amount * rate.numerator // rate.denominator for rate in rates)


def bookable(params: Params, amount: int, contribution: int) -> bool:
    """True when an order of ``amount`` with this pool ``contribution`` can be booked whoever
    buys it: the contribution, the dividend share and the commissions fit in the amount."""
    return contribution + booking_take(params, amount) <= amount


def fixed_contribution_limit(params: Params, price_fen: int) -> int:
    """The largest fixed pool contribution a unit priced ``price_fen`` may carry so that every
    order of it, in any quantity and next to any other lines, can be booked:
    ``floor(price × (1 − dividend_rate − Σ commission_rates))``.

    Per unit, ``bookable`` is not enough: the floors are taken of the order's amount, and the
    floor of a sum is at least the sum of the floors (3 units of 0.01 at a 50 % dividend share
    take 0.01, one unit takes none). At or below this limit, ``q × contribution`` plus the
    shares of ``q × price`` never exceed ``q × price``; above it, some quantity fails."""
    kept = 1 - params.dividend_rate - sum(params.commission_rates, Fraction(0))
    return max(price_fen * kept.numerator // kept.denominator, 0)


def check_fixed_contribution(params: Params, price_fen: int, contribution_fen: int) -> None:
    """Refuse a fixed pool contribution an order could never be booked with (it would be paid
    and then refused at booking): above ``fixed_contribution_limit``."""
    limit = fixed_contribution_limit(params, price_fen)
    if contribution_fen > limit:
        rates = [format_rate(params.dividend_rate), *map(format_rate, params.commission_rates)]
        raise InvalidAmount(
            f"a pool contribution of {format_money(contribution_fen)} on a price of "
            f"{format_money(price_fen)} leaves too little for the dividend share and "
            f"commissions (rates {' + '.join(rates)}): at most {format_money(limit)}"
        )


def referrer_chain(state: EconomyState, buyer: Holder, levels: int) -> list[Holder]:
    chain: list[Holder] = []
    name = buyer.referrer
    while name is not None and len(chain) < levels:
        referrer = state.holders[name]
        chain.append(referrer)
        name = referrer.referrer
    return chain


def purchase(
    rates: Rates,
    state: EconomyState,
    buyer: Holder,
    amount: int,
    contribution: int | None = None,
) -> PurchaseResult:
    if amount <= 0:
        raise InvalidAmount("amount must be greater than zero")
    contribution = contribution_for(rates, amount, contribution)
    dividend = amount * rates.dividend[0] // rates.dividend[1]
    if contribution + dividend > amount:
        raise InvalidAmount("contribution plus the dividend share must not exceed the amount")

    price_num, price_den = state.price()
    room = rates.max_supply - state.minted
    seq = state.seq = state.seq + 1
    grants: list[Grant] = []
    # Units for a rate r: floor(r × contribution / p) = r.num × c × p.den // (r.den × p.num).
    base = contribution * price_den
    grant_num, grant_den = rates.grant
    units = min(grant_num * base // (grant_den * price_num), room)
    if units > 0:
        buyer.points += units
        buyer.points_seq = seq
        room -= units
        grants.append(Grant(buyer.name, units, 0))
    if rates.referrals and buyer.referrer is not None:
        chain = referrer_chain(state, buyer, len(rates.referrals))
        for level, (referrer, (rate_num, rate_den)) in enumerate(
            zip(chain, rates.referrals, strict=False), start=1
        ):
            units = min(rate_num * base // (rate_den * price_num), room)
            if units > 0:
                referrer.points += units
                referrer.points_seq = seq
                room -= units
                grants.append(Grant(referrer.name, units, level))

    minted = rates.max_supply - state.minted - room
    state.minted += minted
    state.circulating += minted
    state.pool += contribution
    state.dividend_pool += dividend
    revenue = amount - contribution - dividend
    state.revenue += revenue
    state.money_in += amount

    quota_added = amount * rates.quota[0] // rates.quota[1]
    buyer.quota += quota_added
    buyer.spend += amount
    if quota_added > 0:
        buyer.exited = False
    return PurchaseResult(
        buyer.name,
        amount,
        contribution,
        dividend,
        revenue,
        quota_added,
        tuple(grants),
        price_num,
        price_den,
    )
