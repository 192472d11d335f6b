"""Why a journal exists: one code per kind of business event (TigerBeetle's ``code``)."""

from __future__ import annotations

from enum import StrEnum


class JournalCode(StrEnum):
    PURCHASE = "purchase"  # rule 1: an order's rewards booked
    BUYBACK = "buyback"  # rule 2: a user sold points back
    CONVERT = "convert"  # rule 3: equity points to stable points
    PAY_STABLE = "pay_stable"  # rule 4: an order paid with stable points
    REDEEM_STABLE = "redeem_stable"  # rule 5: a merchant redeemed stable points
    DIVIDEND = "dividend"  # rule 6: one business day's dividend
    FORCED_EXIT = "forced_exit"  # rule 7: that day's forced buybacks
    PARAMS_CHANGE = "params_change"  # an audited parameter change (no postings)
    JOIN = "join"  # a user bound to a referrer (no postings)
    REVERSAL = "reversal"  # an operator's correction: the negation of an earlier journal
    # Money around the economy (domain/economy/cashflow.py)
    PAYMENT = "payment"  # a gateway paid for an order: held in escrow until rewards are booked
    REFUND = "refund"  # an order refunded before its rewards were booked: escrow to gateway
    REFUND_ADJUSTMENT = "refund_adjustment"  # an operator refunds a booked order from revenue
    REFUND_REVERSAL = "refund_reversal"  # a booked order refunded: its rewards taken back
    REFUND_STABLE = "refund_stable"  # stable points paid for a refunded order go back
    COMMISSION_FREEZE = "commission_freeze"  # an order's commissions set aside from revenue
    COMMISSION_RELEASE = "commission_release"  # the order completed: commissions to cash
    COMMISSION_CLAWBACK = "commission_clawback"  # the order refunded: commissions taken back
    DEBT_REPAID = "debt_repaid"  # a user paid what a clawback left them owing
    WITHDRAWAL_HOLD = "withdrawal_hold"  # cash held for a requested withdrawal
    WITHDRAWAL_PAID = "withdrawal_paid"  # an approved withdrawal paid out to the bank
    WITHDRAWAL_RELEASE = "withdrawal_release"  # a refused withdrawal: cash back to the user
    SALE = "sale"  # a gateway paid for a good sold outright (a primary NFG sale): revenue
    # The market (文交所, domain/economy/market_cash.py): secondary trades move money only.
    MARKET_DEPOSIT = "market_deposit"  # a gateway paid market cash into a user's cash
    MARKET_RESERVE = "market_reserve"  # a bid (求购) reserved its price from the bidder's cash
    MARKET_RELEASE = "market_release"  # a bid cancelled or expired: its reservation back
    MARKET_TRADE = "market_trade"  # one trade: buyer to seller, fee and royalty
    ROYALTY_PAYOUT = "royalty_payout"  # an issuer's accrued royalties paid into its cash


# Journals whose postings may be reversed by an operator; a day's settlement may not.
REVERSIBLE = frozenset(
    {
        JournalCode.PURCHASE,
        JournalCode.BUYBACK,
        JournalCode.CONVERT,
        JournalCode.PAY_STABLE,
        JournalCode.REDEEM_STABLE,
    }
)
