"""The simple path: one command, one transaction — and operators' reversing journals.

``execute`` locks the tenant (its economy_state row on PostgreSQL; the database's write lock
on SQLite), answers a repeated idempotency key from the stored journal, else loads a fresh
``TenantBook``, applies the command through the engine and writes the batch before commit.
It is correct under any concurrency but every request pays a lock, a load and a commit: the
tenant writer batches many commands per commit and keeps the book between batches.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction

from sqlalchemy import Connection, select

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import journals, postings
from tokenmall.domain.economy import Params
from tokenmall.domain.economy.refund import Exit, OrderReversal
from tokenmall.domain.economy.refund import plan_order_reversal as plan_refund
from tokenmall.domain.errors import DomainError, RuleViolation
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger import reversal
from tokenmall.domain.ledger.accounts import Account, AccountKind, Asset
from tokenmall.domain.ledger.batch import BookedJournal, holder_row
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.ledger.journal import IdempotencyConflict, Posting, build
from tokenmall.domain.ledger.results import (
    Purchased,
    Reversed,
    RewardsReversal,
    RewardsReversed,
    StoredResult,
)
from tokenmall.domain.money import PRICE_DISPLAY_FACTOR
from tokenmall.services.ledger.book import TenantBook, book_of, load_book


def replayed(
    store: Store, conn: Connection, tenant_id: str, key: str, fingerprint: str
) -> StoredResult | None:
    """The first result for ``key`` if it was used for this same request; a conflict if it
    was used for another one; None if it is new."""
    found = store.find_journals(conn, tenant_id, [key]).get(key)
    if found is None:
        return None
    if found[0] != fingerprint:
        raise IdempotencyConflict(key)
    return found[1]


def execute_in(store: Store, conn: Connection, command: c.Command) -> StoredResult:
    """``execute`` inside a transaction the caller owns (and commits)."""
    if isinstance(command, c.SettleDay):
        tenant_id = command.tenant_id
        store.lock_tenant(conn, tenant_id)
        first = replayed(store, conn, tenant_id, command.idempotency_key, command.fingerprint())
        if first is not None:
            return first
        from tokenmall.services.ledger.settlement import settle_in

        return settle_in(store, conn, tenant_id, command.business_date).to_json()
    if isinstance(command, c.ReverseOrderRewards):
        return reverse_order_in(store, conn, command).to_json()
    return execute_many_in(store, conn, [command])[0]


def execute_many_in(
    store: Store, conn: Connection, commands: Sequence[c.Command]
) -> list[StoredResult]:
    """Several commands of one tenant in the caller's transaction: the tenant is locked once,
    their keys looked up at once, the book loaded once and one batch written. Each command
    is answered like ``execute_in`` (a repeated key returns its first result); a refused one
    raises and nothing is written (the caller's transaction then rolls back)."""
    if not commands:
        return []
    keys = [command.idempotency_key for command in commands]
    with LedgerBatch(store, conn, commands[0].tenant_id, keys) as batch:
        return [batch.run(command) for command in commands]


@dataclass(frozen=True, slots=True)
class Prefound:
    """Idempotency keys looked up BEFORE the tenant's lock (``look_up``), to keep the lock
    short. A key found is final (journals are immutable). A key not found may still be taken
    by a racing transaction before the lock: the journals' unique key then refuses the write
    (``IntegrityError``) and the caller's retry finds it — use it only where a retry is made."""

    keys: frozenset[str]
    found: dict[str, tuple[str, StoredResult]]


def look_up(store: Store, conn: Connection, tenant_id: str, keys: Iterable[str]) -> Prefound:
    return look_up_later(store, conn, tenant_id, keys)()


def look_up_later(
    store: Store, conn: Connection, tenant_id: str, keys: Iterable[str]
) -> Callable[[], Prefound]:
    """``look_up`` sent now (with a pipeline's other statements), read when called for."""
    wanted = frozenset(keys)
    found = store.find_journals_later(conn, tenant_id, wanted)
    return lambda: Prefound(wanted, found())


class LedgerBatch:
    """One tenant's ledger steps inside the caller's transaction, written together.

    Entering locks the tenant and reads its state row in one statement (parameters come from
    the per-process cache by ``params_version``), and looks up the idempotency ``keys`` the
    caller expects to use in one more. ``run`` applies a command to the book (or answers its
    stored first result); a step may be built from an earlier step's result. Leaving the block
    normally writes every journal in one batch (a few statements, one round trip on
    PostgreSQL) — or, with ``write_on_exit=False``, the caller calls ``flush`` itself (e.g.
    in one pipeline with its own rows); leaving it by an exception writes nothing. Not for
    ``SettleDay``.

    ``book``: a book whose owner already holds the tenant's lock in this transaction and
    whose state is the database's (``services/writers/units.py``): no lock and no load here.
    If a step is refused after earlier steps changed it, the owner must reload it."""

    def __init__(
        self,
        store: Store,
        conn: Connection,
        tenant_id: str,
        keys: Iterable[str] = (),
        *,
        looked_up: Prefound | None = None,
        write_on_exit: bool = True,
        book: TenantBook | None = None,
    ) -> None:
        self.store = store
        self.conn = conn
        self.tenant_id = tenant_id
        self._keys = list(keys)
        self._stored: dict[str, tuple[str, StoredResult]] = {}
        self._looked_up: set[str] = set()
        if looked_up is not None:
            self._stored.update(looked_up.found)
            self._looked_up.update(looked_up.keys)
        self.write_on_exit = write_on_exit
        self._given = book
        self._book: TenantBook | None = None

    def __enter__(self) -> LedgerBatch:
        store, conn, tenant_id = self.store, self.conn, self.tenant_id
        if self._given is not None:  # the unit writer's: locked and loaded in this transaction
            self._book = self._given
        else:
            state, last_journal_id, version = store.lock_state(conn, tenant_id)
            self._book = book_of(store, conn, tenant_id, state, last_journal_id, version)
        self._look_up(self._keys)
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        if kind is None and self.write_on_exit:
            self.flush()

    @property
    def book(self) -> TenantBook:
        if self._book is None:
            raise RuntimeError("use LedgerBatch in a with block")
        return self._book

    @property
    def params(self) -> Params:
        """The tenant's parameters in force (read under its lock)."""
        return self.book.params

    def _look_up(self, keys: Iterable[str]) -> None:
        wanted = [key for key in dict.fromkeys(keys) if key not in self._looked_up]
        if wanted:
            self._stored.update(self.store.find_journals(self.conn, self.tenant_id, wanted))
            self._looked_up.update(wanted)

    def known_absent(self, names: Iterable[str]) -> None:
        """Holders made up in this transaction (new ids): not looked up (``TenantBook``)."""
        self.book.known_absent(names)

    def stored(self, key: str) -> StoredResult | None:
        """The committed result under ``key`` (None if it is not in the ledger yet)."""
        self._look_up([key])
        found = self._stored.get(key)
        return None if found is None else found[1]

    def run(self, command: c.Command) -> StoredResult:
        """The command's result: applied now, or its first result if its key was used."""
        return self.apply(command)[0]

    def apply(self, command: c.Command) -> tuple[StoredResult, bool]:
        """``run``, and whether the command was new (False: its key's first result)."""
        if command.tenant_id != self.tenant_id:
            raise ValueError(f"a command of {command.tenant_id} in {self.tenant_id}'s batch")
        if isinstance(command, c.SettleDay):
            raise TypeError("settle a day with execute_in, alone")
        key = command.idempotency_key
        self._look_up([key])
        found = self._stored.get(key)
        if found is not None:
            if found[0] != command.fingerprint():
                raise IdempotencyConflict(key)
            return found[1], False
        applied = self.book.apply(command)
        return applied.result, applied.journal is not None

    def purchase(self, command: c.Purchase) -> tuple[Purchased, bool]:
        """``apply`` for a purchase, its result typed (``Purchased``)."""
        result, fresh = self.apply(command)
        return Purchased.from_stored(result), fresh

    def flush(self) -> None:
        """Write what was applied so far (leaving the block does it). Inside
        ``fast.deferring`` nothing is written: the book's owner writes its batch once."""
        if self._book is not None and not fast.deferred(self.conn):
            self.store.write_batch(self.conn, self.tenant_id, self._book.take_batch())


def execute(store: Store, command: c.Command) -> StoredResult:
    """Apply one command in its own transaction and return its stored result (JSON).

    A refused command raises ``DomainError`` and writes nothing; a repeated key returns the
    first result and changes nothing; a key reused for another request raises
    ``IdempotencyConflict``."""
    with store.transaction() as conn:
        return execute_in(store, conn, command)


# -- corrections --------------------------------------------------------------------------------


def reverse(
    store: Store, tenant_id: str, journal_id: int, idempotency_key: str, reason: str
) -> Reversed:
    """An operator's correction: a new journal (code ``reversal``) negating an earlier one.

    Only postings are undone, never the engine's history (spend, quota, dividends stay as
    booked). The reversal is refused if any balance would go negative, if the price would
    fall (so reversing a purchase or a buyback is refused; a refunded order's rewards are taken
    back by ``ReverseOrderRewards`` instead),
    if the journal is a settlement, a parameter change or a reversal, or if it was already
    reversed. Idempotent like every command."""
    with store.transaction() as conn:
        return reverse_in(store, conn, tenant_id, journal_id, idempotency_key, reason)


def reverse_in(
    store: Store,
    conn: Connection,
    tenant_id: str,
    journal_id: int,
    idempotency_key: str,
    reason: str,
) -> Reversed:
    """``reverse`` inside a transaction the caller owns (and commits)."""
    if not reason.strip():
        raise DomainError("a reversal needs a reason")
    request = json.dumps(
        {"command": "Reverse", "tenant_id": tenant_id, "journal_id": journal_id, "reason": reason},
        sort_keys=True,
    )
    fingerprint = hashlib.sha256(request.encode()).hexdigest()
    store.lock_tenant(conn, tenant_id)
    first = replayed(store, conn, tenant_id, idempotency_key, fingerprint)
    if first is not None:
        return Reversed.from_stored(first)
    original = conn.execute(
        select(journals.c.code, journals.c.reverses).where(
            journals.c.tenant_id == tenant_id, journals.c.journal_id == journal_id
        )
    ).first()
    if original is None:
        raise DomainError(f"no journal {journal_id}")
    already = conn.execute(
        select(journals.c.journal_id).where(
            journals.c.tenant_id == tenant_id, journals.c.reverses == journal_id
        )
    ).first()
    if already is not None:
        raise RuleViolation(f"journal {journal_id} was already reversed by {already[0]}")
    lines = [
        Posting(Account(AccountKind(row.account), row.holder), Asset(row.asset), row.amount)
        for row in conn.execute(
            select(postings)
            .where(postings.c.tenant_id == tenant_id, postings.c.journal_id == journal_id)
            .order_by(postings.c.line)
        )
    ]
    book = load_book(store, conn, tenant_id)
    book.ensure({posting.account.holder for posting in lines if posting.account.holder})
    code = JournalCode(original.code)
    negated, touched = reversal.reverse(book.state, code, lines, journal_id)
    new_id = book.last_journal_id + 1
    result = Reversed(new_id, journal_id, reason)
    draft = build(JournalCode.REVERSAL, idempotency_key, fingerprint, result.to_json(), negated)
    book.last_journal_id = new_id
    batch = book.take_batch()
    batch.journals.append(BookedJournal(new_id, draft))
    batch.holders = [holder_row(book.state.holders[name]) for name in touched]
    batch.state = book.state_row()
    store.write_batch(conn, tenant_id, batch)
    return result


# -- a booked order refunded (rule 9) -----------------------------------------------------------

_EXIT_CODES = (str(JournalCode.BUYBACK), str(JournalCode.CONVERT), str(JournalCode.FORCED_EXIT))


def purchase_key(order_ref: str) -> str:
    """The idempotency key of an order's booked purchase (``services/mall/order_ledger``)."""
    return f"order:{order_ref}:purchase"


def _exits(
    conn: Connection, tenant_id: str, after: int, names: Iterable[str], price: tuple[int, int]
) -> dict[str, list[Exit]]:
    """Each holder's points that left (sold, converted, forced out) after journal ``after``,
    oldest first, at the price their journal executed at."""
    wanted = sorted(set(names))
    out: dict[str, list[Exit]] = {name: [] for name in wanted}
    if not wanted:
        return out
    rows = conn.execute(
        select(postings.c.holder, postings.c.amount, journals.c.result)
        .join(
            journals,
            (journals.c.tenant_id == postings.c.tenant_id)
            & (journals.c.journal_id == postings.c.journal_id),
        )
        .where(
            postings.c.tenant_id == tenant_id,
            postings.c.journal_id > after,
            postings.c.account == str(AccountKind.USER_POINTS),
            postings.c.holder.in_(wanted),
            postings.c.amount < 0,
            journals.c.code.in_(_EXIT_CODES),
        )
        .order_by(postings.c.journal_id, postings.c.line)
    )
    for holder, amount, result in rows:
        data = json.loads(result) if isinstance(result, str) else result
        text = data.get("price") if isinstance(data, dict) else None
        if text is None:
            num, den = price
        else:
            exact = Fraction(Decimal(str(text))) / PRICE_DISPLAY_FACTOR
            num, den = exact.numerator, exact.denominator
        out[holder].append(Exit(-int(amount), num, den))
    return out


def _purchase_of(
    store: Store, conn: Connection, tenant_id: str, order_ref: str
) -> tuple[int, Purchased]:
    """The order's booked purchase journal: its id and result."""
    row = conn.execute(
        select(journals.c.journal_id, journals.c.result).where(
            journals.c.tenant_id == tenant_id,
            journals.c.idempotency_key == purchase_key(order_ref),
        )
    ).first()
    if row is None:
        raise RuleViolation(f"order {order_ref}'s rewards are not booked: nothing to take back")
    result = json.loads(row.result) if isinstance(row.result, str) else row.result
    return int(row.journal_id), Purchased.from_stored(result)


def plan_order_reversal(
    store: Store,
    conn: Connection,
    book: TenantBook,
    order_ref: str,
    refund_fen: int | None = None,
) -> OrderReversal:
    """What refunding the booked order ``order_ref`` would take back, from ``book``'s state."""
    journal_id, purchase = _purchase_of(store, conn, book.tenant_id, order_ref)
    grants = [(g.holder, g.points, g.level) for g in purchase.grants]
    buyer = purchase.buyer
    amount = purchase.amount
    part = (1, 1) if refund_fen is None or not amount else (min(refund_fen, amount), amount)
    book.ensure({buyer, *(name for name, _, _ in grants)})
    state = book.state
    exits = _exits(conn, book.tenant_id, journal_id, (n for n, _, _ in grants), state.price())
    return plan_refund(
        state,
        order_ref=order_ref,
        buyer=buyer,
        grants=grants,
        quota_added=purchase.quota_added,
        spend_added=amount,
        exits=exits,
        part=part,
    )


def preview_order_reversal(
    store: Store, conn: Connection, tenant_id: str, order_ref: str
) -> RewardsReversal:
    """The figures ``reverse_order_in`` would book now, read only (the admin's preview)."""
    book = load_book(store, conn, tenant_id)
    return RewardsReversal.of(plan_order_reversal(store, conn, book, order_ref))


def reverse_order_in(
    store: Store, conn: Connection, command: c.ReverseOrderRewards
) -> RewardsReversed:
    """Take back a booked order's rewards as one balanced journal (``refund_reversal``), in
    the caller's transaction, under the tenant's lock. Idempotent like every command."""
    tenant_id = command.tenant_id
    store.lock_tenant(conn, tenant_id)
    first = replayed(store, conn, tenant_id, command.idempotency_key, command.fingerprint())
    if first is not None:
        return RewardsReversed.from_stored(first)
    book = load_book(store, conn, tenant_id)
    plan = plan_order_reversal(store, conn, book, command.order_ref, command.refund_fen)
    lines = reversal.apply_order_reversal(book.state, plan)
    new_id = book.last_journal_id + 1
    result = RewardsReversed(new_id, RewardsReversal.of(plan), command.approved_by)
    draft = build(
        JournalCode.REFUND_REVERSAL,
        command.idempotency_key,
        command.fingerprint(),
        result.to_json(),
        lines,
    )
    book.last_journal_id = new_id
    batch = book.take_batch()
    batch.journals.append(BookedJournal(new_id, draft))
    batch.holders = [holder_row(book.state.holders[t.holder]) for t in plan.takes]
    batch.state = book.state_row()
    store.write_batch(conn, tenant_id, batch)
    return result
