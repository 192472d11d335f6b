"""The market's money (文交所, market.md) in the economy's books: deposits of market cash, the
cash a bid (求购) reserves and returns, and a trade's settlement. None of it touches points,
the price, quota, dividends or commissions: secondary trades move money and tokens only.

Market cash is the users' one cash balance (the same one dividends and buybacks pay into and
withdrawals take from). Each function checks first and changes ``state`` only when the whole
event is allowed; the ledger turns each into one journal. They extend the identities of
``cashflow``::

    money_in = … + Σ cash + market_escrow + market_fees + royalties
    Σ cash = … − cash_out + market_deposits − market_escrow − market_fees − royalties
"""

from __future__ import annotations

from tokenmall.domain.economy.state import EconomyState
from tokenmall.domain.errors import InsufficientBalance, InvalidAmount, RuleViolation


def _positive(what: str, amount: int) -> None:
    if amount <= 0:
        raise InvalidAmount(f"{what} must be greater than zero")


def deposit(state: EconomyState, user: str, amount: int) -> None:
    """A gateway paid ``amount`` into ``user``'s cash for the market: new money."""
    _positive("deposit amount", amount)
    state.money_in += amount
    state.market_deposits += amount
    state.holder(user).cash += amount


def reserve(state: EconomyState, user: str, amount: int) -> None:
    """A resting bid holds ``amount`` of ``user``'s cash in the market's escrow."""
    _positive("reservation", amount)
    holder = state.holder(user)
    if amount > holder.cash:
        raise InsufficientBalance(f"{user} has {holder.cash} fen of cash, less than {amount}")
    holder.cash -= amount
    state.market_escrow += amount


def release(state: EconomyState, user: str, amount: int) -> None:
    """A bid cancelled or expired: its reservation returns to ``user``'s cash."""
    _positive("release", amount)
    if amount > state.market_escrow:
        raise InsufficientBalance(
            f"the market's escrow holds {state.market_escrow} fen, less than {amount}"
        )
    state.market_escrow -= amount
    state.holder(user).cash += amount


def pay_royalty(state: EconomyState, issuer: str, amount: int) -> None:
    """Pay ``amount`` of the accrued royalties into ``issuer``'s cash. Both identities above
    keep: the royalties account falls by what the issuer's cash gains."""
    _positive("royalty payout", amount)
    if amount > state.royalties:
        raise InsufficientBalance(
            f"the royalties account holds {state.royalties} fen, less than {amount}"
        )
    state.royalties -= amount
    state.holder(issuer).cash += amount


def check_trade(price: int, fee: int, royalty: int, buyer: str, seller: str) -> None:
    """A trade's shape: a positive price, fee and royalty not negative and within it, two
    different users."""
    _positive("price", price)
    if fee < 0 or royalty < 0 or fee + royalty > price:
        raise RuleViolation(f"fee {fee} and royalty {royalty} must be within the price {price}")
    if buyer == seller:
        raise RuleViolation("a trade needs two different users")


def trade(
    state: EconomyState,
    buyer: str,
    seller: str,
    price: int,
    fee: int,
    royalty: int,
    *,
    from_escrow: bool,
) -> int:
    """Settle one trade: the buyer pays ``price`` from cash (or, filling their resting bid,
    from the escrow that reservation put there); the seller gets ``price − fee − royalty``;
    ``fee`` to the platform, ``royalty`` to the issuers. Returns the seller's proceeds."""
    check_trade(price, fee, royalty, buyer, seller)
    payer = state.holder(buyer)
    if from_escrow:
        if price > state.market_escrow:
            raise InsufficientBalance(
                f"the market's escrow holds {state.market_escrow} fen, less than {price}"
            )
    elif price > payer.cash:
        raise InsufficientBalance(f"{buyer} has {payer.cash} fen of cash, less than {price}")
    proceeds = price - fee - royalty
    if from_escrow:
        state.market_escrow -= price
    else:
        payer.cash -= price
    state.holder(seller).cash += proceeds
    state.market_fees += fee
    state.royalties += royalty
    return proceeds
