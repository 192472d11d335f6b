"""The engine's result objects as balanced ledger lines and as JSON-safe results.

Each function only moves the numbers the engine already decided into accounts; none of them
recomputes a rule. Results carry decimal strings (never floats) and are what a caller gets
back, first time and on every replay of the same idempotency key.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tokenmall.domain.economy.cashflow import Clawback, Commission
from tokenmall.domain.economy.dividend import Exit
from tokenmall.domain.economy.market import (
    ConvertResult,
    PayStableResult,
    RedeemResult,
    SellResult,
)
from tokenmall.domain.economy.purchase import PurchaseResult
from tokenmall.domain.ledger import accounts as acc
from tokenmall.domain.ledger.journal import Line, Posting
from tokenmall.domain.ledger.results import StoredResult, purchase_body
from tokenmall.domain.money import format_money, format_points, format_price


def purchase_lines(r: PurchaseResult, from_escrow: bool = False) -> list[Line]:
    lines: list[Line] = [
        (acc.ORDER_ESCROW if from_escrow else acc.GATEWAY_CLEARING, -r.amount),
        (acc.BACKING_POOL, r.contribution),
        (acc.DIVIDEND_POOL, r.dividend),
        (acc.REVENUE, r.revenue),
        (acc.SUPPLY, -r.minted),
    ]
    lines.extend((acc.points(g.holder), g.units) for g in r.grants)
    return lines


def sell_lines(r: SellResult) -> list[Line]:
    """A buyback: the points burned, the backing pool gives up the payout (and, with
    ``sell_fee_to = dividend_pool``, the fee, which the dividend pool receives)."""
    lines: list[Line] = [
        (acc.points(r.holder), -r.units),
        (acc.SUPPLY, r.units),
        (acc.BACKING_POOL, -r.pool_out),
        (acc.cash(r.holder), r.payout),
    ]
    if r.fee_to_dividend:
        lines.append((acc.DIVIDEND_POOL, r.fee_to_dividend))
    return lines


def convert_lines(r: ConvertResult) -> list[Line]:
    return [
        (acc.points(r.holder), -r.units),
        (acc.TREASURY, r.units),
        (acc.STABLE_SUPPLY, -r.value),
        (acc.stable(r.holder), r.value),
    ]


def pay_stable_lines(r: PayStableResult) -> list[Line]:
    return [(acc.stable(r.payer), -r.amount), (acc.stable(r.merchant), r.amount)]


def redeem_lines(r: RedeemResult) -> list[Line]:
    return [
        (acc.stable(r.merchant), -r.amount),
        (acc.STABLE_SUPPLY, r.amount),
        (acc.TREASURY, -r.units),
        (acc.points(r.merchant), r.units),
    ]


def dividend_lines(payouts: Iterable[tuple[str, int]]) -> list[Line]:
    """One day's dividends: ``(holder, fen)`` pairs, paid out of the dividend pool."""
    lines: list[Line] = []
    total = 0
    for holder, share in payouts:
        lines.append((acc.cash(holder), share))
        total += share
    lines.append((acc.DIVIDEND_POOL, -total))
    return lines


PostingRow = tuple[str, str, str, int]  # (account kind, holder, asset, signed amount)


def dividend_rows(payouts: Iterable[tuple[str, int]]) -> list[PostingRow]:
    """``dividend_lines`` as plain rows, for the million-holder day (no objects per holder)."""
    cash, money = str(acc.AccountKind.USER_CASH), str(acc.Asset.MONEY)
    rows: list[PostingRow] = []
    total = 0
    for holder, share in payouts:
        rows.append((cash, holder, money, share))
        total += share
    rows.append((str(acc.AccountKind.DIVIDEND_POOL), "", money, -total))
    return rows


def exit_lines(exits: Iterable[Exit]) -> list[Line]:
    """One day's forced buybacks (rule 7), all at the price the step began with: each exit's
    points and cash, then the supply, the backing pool and (their fees, with ``sell_fee_to =
    dividend_pool``) the dividend pool."""
    lines: list[Line] = []
    units = payout = fee = 0
    for e in exits:
        lines.append((acc.points(e.holder), -e.units))
        lines.append((acc.cash(e.holder), e.payout))
        units += e.units
        payout += e.payout
        fee += e.fee
    lines.append((acc.SUPPLY, units))
    lines.append((acc.BACKING_POOL, -(payout + fee)))
    lines.append((acc.DIVIDEND_POOL, fee))
    return lines


# -- money around the economy (cashflow) ------------------------------------------------------


def payment_lines(amount: int) -> list[Line]:
    return [(acc.GATEWAY_CLEARING, -amount), (acc.ORDER_ESCROW, amount)]


def refund_lines(amount: int) -> list[Line]:
    return [(acc.ORDER_ESCROW, -amount), (acc.GATEWAY_CLEARING, amount)]


def sale_lines(amount: int) -> list[Line]:
    return [(acc.GATEWAY_CLEARING, -amount), (acc.REVENUE, amount)]


def sell_to_lines(r: SellResult, payee: str) -> list[Line]:
    """A buyback whose payout goes to ``payee``'s cash (``market.sell_to``)."""
    lines = sell_lines(r)
    lines[3] = (acc.cash(payee), r.payout)
    return lines


def refund_booked_lines(amount: int) -> list[Line]:
    return [(acc.REVENUE, -amount), (acc.GATEWAY_CLEARING, amount)]


def refund_stable_lines(merchant: str, user: str, amount: int) -> list[Line]:
    return [(acc.stable(merchant), -amount), (acc.stable(user), amount)]


def freeze_lines(total: int) -> list[Line]:
    return [(acc.REVENUE, -total), (acc.COMMISSIONS_FROZEN, total)] if total else []


def release_lines(payouts: Iterable[tuple[str, int]]) -> list[Line]:
    lines: list[Line] = [(acc.cash(holder), fen) for holder, fen in payouts]
    lines.append((acc.COMMISSIONS_FROZEN, -sum(fen for _, fen in lines)))
    return lines


def clawback_lines(frozen_total: int, taken: Iterable[Clawback]) -> list[Line]:
    lines: list[Line] = []
    revenue = frozen_total
    if frozen_total:
        lines.append((acc.COMMISSIONS_FROZEN, -frozen_total))
    debt = 0
    for t in taken:
        if t.from_cash:
            lines.append((acc.cash(t.holder), -t.from_cash))
        debt += t.debt
        revenue += t.amount
    if debt:
        lines.append((acc.RECEIVABLES, -debt))
    lines.append((acc.REVENUE, revenue))
    return lines


def repay_lines(user: str, amount: int) -> list[Line]:
    return [(acc.cash(user), -amount), (acc.RECEIVABLES, amount)]


def hold_withdrawal_lines(user: str, amount: int) -> list[Line]:
    return [(acc.cash(user), -amount), (acc.WITHDRAWAL_HOLD, amount)]


def pay_withdrawal_lines(amount: int) -> list[Line]:
    return [(acc.WITHDRAWAL_HOLD, -amount), (acc.WITHDRAWALS, amount)]


def release_withdrawal_lines(user: str, amount: int) -> list[Line]:
    return [(acc.WITHDRAWAL_HOLD, -amount), (acc.cash(user), amount)]


def market_deposit_lines(user: str, amount: int) -> list[Line]:
    return [(acc.GATEWAY_CLEARING, -amount), (acc.cash(user), amount)]


def market_reserve_lines(user: str, amount: int) -> list[Line]:
    return [(acc.cash(user), -amount), (acc.MARKET_ESCROW, amount)]


def market_release_lines(user: str, amount: int) -> list[Line]:
    return [(acc.MARKET_ESCROW, -amount), (acc.cash(user), amount)]


def market_trade_lines(
    buyer: str, seller: str, price: int, fee: int, royalty: int, from_escrow: bool
) -> list[Line]:
    """One trade, one journal: the payer gives ``price``; the seller, the platform's fees and
    the issuers' royalties receive it (lines of 0 are left out)."""
    lines: list[Line] = [
        (acc.MARKET_ESCROW if from_escrow else acc.cash(buyer), -price),
        (acc.cash(seller), price - fee - royalty),
    ]
    if fee:
        lines.append((acc.MARKET_FEES, fee))
    if royalty:
        lines.append((acc.ROYALTIES, royalty))
    return [line for line in lines if line[1]]


def royalty_payout_lines(issuer: str, amount: int) -> list[Line]:
    """The issuer's accrued royalties leave the ``royalties`` account for its cash."""
    return [(acc.ROYALTIES, -amount), (acc.cash(issuer), amount)]


def commissions_result(commissions: Iterable[Commission]) -> list[dict[str, Any]]:
    return [
        {"holder": c.holder, "amount": format_money(c.amount), "level": c.level}
        for c in commissions
    ]


def clawback_result(frozen_total: int, taken: Iterable[Clawback]) -> dict[str, Any]:
    return {
        "frozen_returned": format_money(frozen_total),
        "paid_taken_back": [
            {
                "holder": t.holder,
                "amount": format_money(t.amount),
                "from_cash": format_money(t.from_cash),
                "debt": format_money(t.debt),
            }
            for t in taken
        ],
    }


def reversal_lines(postings: Iterable[Posting]) -> list[Line]:
    return [(p.account, -p.amount) for p in postings]


# -- results (JSON-safe, decimal strings) -------------------------------------------------------


def price_text(num: int, den: int) -> str:
    return format_price(num, den)


def purchase_result(r: PurchaseResult) -> StoredResult:
    return purchase_body(
        r.buyer,
        r.amount,
        r.contribution,
        r.dividend,
        r.revenue,
        r.quota_added,
        [(g.holder, g.units, g.level) for g in r.grants],
        price_text(r.price_num, r.price_den),
    )


def sell_result(r: SellResult) -> dict[str, Any]:
    return {
        "holder": r.holder,
        "points": format_points(r.units),
        "payout": format_money(r.payout),
        "price": price_text(r.price_num, r.price_den),
    }


def convert_result(r: ConvertResult) -> dict[str, Any]:
    return {
        "holder": r.holder,
        "points": format_points(r.units),
        "stable": format_money(r.value),
        "price": price_text(r.price_num, r.price_den),
    }


def pay_stable_result(r: PayStableResult) -> dict[str, Any]:
    return {"payer": r.payer, "merchant": r.merchant, "amount": format_money(r.amount)}


def redeem_result(r: RedeemResult) -> dict[str, Any]:
    return {
        "merchant": r.merchant,
        "amount": format_money(r.amount),
        "points": format_points(r.units),
        "price": price_text(r.price_num, r.price_den),
    }
