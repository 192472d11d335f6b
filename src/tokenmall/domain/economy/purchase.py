"""Rule 1, the purchase: a paid order's money funds the pools and mints points at the old price.

With ``p`` the price before the order (fen per unit), the buyer receives
``floor(grant_rate × contribution / p)`` units and each referrer level ``k``
``floor(referral_rates[k] × contribution / p)``, all capped by what is left of ``max_supply``.
Because ``grant_rate + Σ referral_rates <= 1``, the points minted are worth at most the
contribution at ``p``, so the price after is at least ``p``.
"""

from __future__ import annotations

from typing import NamedTuple

from tokenmall.domain.economy.state import EconomyState, Holder, Rates
from tokenmall.domain.errors import InvalidAmount


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
