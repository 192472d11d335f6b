"""The double-entry ledger of one tenant's economy: assets, accounts, codes and journals.

Design note. Three assets are kept apart, each an integer of its own minor unit: MONEY (fen),
EQUITY points (1e-8 units) and STABLE points (fen). Every account is a kind plus, for a user's
accounts, the holder's name. A journal is one business event: a ``code`` saying why, the
client's idempotency key, and signed postings that sum to zero per asset — ``JournalDraft``
refuses to exist otherwise, and PostgreSQL checks it again at commit. ``from_economy`` turns the
engine's result objects into postings; it never recomputes a rule (the engine is the
arithmetic). Issuance and clearing accounts (``supply``, ``stable_supply``,
``gateway_clearing``) carry the opposite sign of what was issued or received, so a user's or a
pool's balance is always the plain sum of its postings and never negative.

Pure: standard library only, no I/O, no clock.
"""

from tokenmall.domain.ledger.accounts import Account, AccountKind, Asset
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.ledger.journal import (
    IdempotencyConflict,
    JournalDraft,
    Posting,
    UnbalancedJournal,
    UnknownTenant,
)

__all__ = [
    "Account",
    "AccountKind",
    "Asset",
    "IdempotencyConflict",
    "JournalCode",
    "JournalDraft",
    "Posting",
    "UnbalancedJournal",
    "UnknownTenant",
]
