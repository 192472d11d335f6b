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
