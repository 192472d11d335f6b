"""Rules 2–5: buyback, conversion to stable points, paying with them, merchant redemption.

All at the current price ``p`` (fen per unit). A buyback pays ``floor(q × p × (1 − fee))``. With
``sell_fee_to = dividend_pool`` the backing pool gives up the points' whole value
``floor(q × p)`` and the fee (that value less the payout) goes to the dividend pool, so the price
after the sale is the price before it, up to the sub-fen remainder the floor leaves in the pool;
with ``backing_pool`` the backing pool gives up only the payout and the fee raises the price.
Either way what leaves the backing pool is at most the burned points' share of it and the price
cannot fall.
Conversion moves points to the treasury (still circulating, still backed) and issues stable
points worth at most those points, so the treasury always covers the stable points outstanding.
"""

from __future__ import annotations

from dataclasses import dataclass

from tokenmall.domain.economy.state import EconomyState, Holder, Rates
from tokenmall.domain.errors import InsufficientBalance, InvalidAmount, RuleViolation
from tokenmall.domain.money import format_money, format_points


@dataclass(frozen=True, slots=True)
class SellResult:
    holder: str
    units: int  # burned
    gross: tuple[int, int]  # q × p as an exact fraction of fen
    payout: int  # fen to the holder's cash
    price_num: int
    price_den: int
    fee_to_dividend: int = 0  # fen of the fee moved to the dividend pool (``sell_fee_to``)

    @property
    def fee_retained(self) -> int:
        """Fen of the fee, ``floor(q × p) − payout``, wherever it went (the rest is rounding)."""
        return self.gross[0] // self.gross[1] - self.payout

    @property
    def pool_out(self) -> int:
        """Fen the backing pool gives up: the payout and the fee moved to the dividend pool."""
        return self.payout + self.fee_to_dividend


@dataclass(frozen=True, slots=True)
class ConvertResult:
    holder: str
    units: int  # moved to the treasury
    value: int  # fen of stable points issued
    price_num: int
    price_den: int


@dataclass(frozen=True, slots=True)
class PayStableResult:
    payer: str
    merchant: str
    amount: int


@dataclass(frozen=True, slots=True)
class RedeemResult:
    merchant: str
    amount: int  # fen of stable points retired
    units: int  # moved from the treasury to the merchant
    price_num: int
    price_den: int


def value_at_price(units: int, price_num: int, price_den: int) -> int:
    """What ``units`` of points are worth at the price ``price_num / price_den``, before any
    fee: ``floor(units × price)`` in fen."""
    return units * price_num // price_den


def buyback_payout(rates: Rates, units: int, price_num: int, price_den: int) -> int:
    """What ``units`` of points fetch at a buyback now, after the sell fee:
    ``floor(units × price × (1 − sell_fee_rate))`` in fen, rounded once."""
    keep_num, keep_den = rates.sell_keep
    return units * price_num * keep_num // (price_den * keep_den)


def fee_to_dividend(rates: Rates, units: int, price_num: int, price_den: int, payout: int) -> int:
    """Fen of a buyback's fee that move from the backing pool to the dividend pool: with
    ``sell_fee_to = dividend_pool``, the points' value ``floor(q × p)`` less the payout; with
    ``backing_pool``, none (the fee stays in the backing pool)."""
    if not rates.fee_to_dividend:
        return 0
    return value_at_price(units, price_num, price_den) - payout


def burn(
    state: EconomyState, holder: Holder, units: int, payout: int, seq: int, fee: int = 0
) -> None:
    """Take ``units`` from ``holder``, burn them, pay ``payout`` from the backing pool and move
    ``fee`` from it to the dividend pool."""
    price_num, price_den = state.price()
    holder.points -= units
    holder.points_seq = seq
    holder.cash += payout
    state.pool -= payout + fee
    state.dividend_pool += fee
    state.burned += units
    state.circulating -= units
    state.buybacks_paid += payout
    if state.circulating == 0:
        state.last_price_num, state.last_price_den = price_num, price_den


def sell(rates: Rates, state: EconomyState, holder: Holder, units: int) -> SellResult:
    if units <= 0:
        raise InvalidAmount("points must be greater than zero")
    if units > holder.points:
        raise InsufficientBalance(
            f"{holder.name} holds {format_points(holder.points)} points, "
            f"cannot sell {format_points(units)}"
        )
    price_num, price_den = state.price()
    payout = buyback_payout(rates, units, price_num, price_den)
    if payout <= 0:
        raise InvalidAmount(f"{format_points(units)} points are worth less than 0.01 after the fee")
    fee = fee_to_dividend(rates, units, price_num, price_den, payout)
    state.seq += 1
    burn(state, holder, units, payout, state.seq, fee)
    return SellResult(
        holder.name, units, (units * price_num, price_den), payout, price_num, price_den, fee
    )


def sell_to(
    rates: Rates, state: EconomyState, holder: Holder, payee: Holder, units: int
) -> SellResult:
    """Rule 2 for points spent on a good: ``units`` of ``holder``'s points are bought back and
    burned at the current price (the fee as ``sell``'s), the payout going to ``payee``'s cash
    (the seller of the good) instead of the holder's."""
    result = sell(rates, state, holder, units)
    holder.cash -= result.payout
    payee.cash += result.payout
    return result


def convert(rates: Rates, state: EconomyState, holder: Holder, units: int) -> ConvertResult:
    if units <= 0:
        raise InvalidAmount("points must be greater than zero")
    if units > holder.points:
        raise InsufficientBalance(
            f"{holder.name} holds {format_points(holder.points)} points, "
            f"cannot convert {format_points(units)}"
        )
    price_num, price_den = state.price()
    keep_num, keep_den = rates.convert_keep
    value = units * price_num * keep_num // (price_den * keep_den)
    if value <= 0:
        raise InvalidAmount(f"{format_points(units)} points are worth less than 0.01")
    state.seq += 1
    holder.points -= units
    holder.points_seq = state.seq
    holder.stable += value
    state.treasury += units
    state.stable_outstanding += value
    return ConvertResult(holder.name, units, value, price_num, price_den)


def pay_stable(
    state: EconomyState, payer: Holder, merchant: Holder, amount: int
) -> PayStableResult:
    if amount <= 0:
        raise InvalidAmount("amount must be greater than zero")
    if payer is merchant:
        raise RuleViolation(f"{payer.name} cannot pay themselves")
    if amount > payer.stable:
        raise InsufficientBalance(
            f"{payer.name} holds {format_money(payer.stable)} stable points, "
            f"cannot pay {format_money(amount)}"
        )
    state.seq += 1
    payer.stable -= amount
    merchant.stable += amount
    merchant.merchant = True
    return PayStableResult(payer.name, merchant.name, amount)


def redeem_stable(state: EconomyState, merchant: Holder, amount: int) -> RedeemResult:
    if amount <= 0:
        raise InvalidAmount("amount must be greater than zero")
    if not merchant.merchant:
        raise RuleViolation(f"{merchant.name} is not a merchant; only merchants redeem")
    if amount > merchant.stable:
        raise InsufficientBalance(
            f"{merchant.name} holds {format_money(merchant.stable)} stable points, "
            f"cannot redeem {format_money(amount)}"
        )
    price_num, price_den = state.price()
    units = amount * price_den // price_num
    if units > state.treasury:
        raise InsufficientBalance(
            f"the treasury holds {format_points(state.treasury)} points, "
            f"cannot deliver {format_points(units)}"
        )
    state.seq += 1
    merchant.stable -= amount
    state.stable_outstanding -= amount
    state.treasury -= units
    if units:
        merchant.points += units
        merchant.points_seq = state.seq
    return RedeemResult(merchant.name, amount, units, price_num, price_den)
