"""``TenantBook``: the in-memory working copy of one tenant's economy, for one writer.

An ``Economy`` (the engine, THE arithmetic) whose aggregates were loaded from the database and
whose holders are loaded lazily by name through ``loader`` and then cached. ``apply`` runs one
command through the engine and returns its result and balanced journal; a refused command
raises ``DomainError`` and leaves the book as it was (the engine validates before it changes
anything). The book remembers which holders changed and the journals made since the last
``take_batch()``, which hands all of it to ``Store.write_batch`` in one go.

Contract for whoever drives a book (``services.ledger.execute`` and the tenant writer):
- Only one book per tenant may be live, and only while its owner is the tenant's one writer
  (the row lock of the simple path, or the writer's advisory lock). Its cache is then true.
- Set ``loader`` to read holders on the connection in use before ``apply``/``prefetch``.
- Check stored idempotency keys first (``Store.find_journals``); the book itself only knows
  the keys applied since the last ``take_batch()``.
- If writing a batch fails, throw the book away and load a new one: it is ahead of the database.
- A day's settlement is not a book command (it streams every holder from the database): run
  ``services.ledger.settlement.settle_in`` in the writer's transaction, then load a new book.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence

from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy import Economy, Params, cashflow, market_cash
from tokenmall.domain.economy.params import MAX_REFERRAL_LEVELS
from tokenmall.domain.economy.state import EconomyState, Holder
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.ledger import from_economy as fe
from tokenmall.domain.ledger.batch import (
    STATE_FIELDS,
    Applied,
    Batch,
    BookedJournal,
    ParamsRow,
    StateRow,
    holder_row,
)
from tokenmall.domain.ledger.codes import JournalCode
from tokenmall.domain.ledger.journal import IdempotencyConflict, Line, build
from tokenmall.domain.ledger.results import StoredResult
from tokenmall.domain.money import format_money

HolderLoader = Callable[[Sequence[str]], Iterable[Holder]]

# Clean holders are dropped from the cache at ``take_batch`` once it holds more than this.
MAX_CACHED_HOLDERS = 200_000


class TenantBook:
    def __init__(
        self,
        tenant_id: str,
        params: Params,
        params_version: int,
        state: EconomyState,
        last_journal_id: int,
        loader: HolderLoader | None = None,
    ) -> None:
        self.tenant_id = tenant_id
        self.economy = Economy(params)
        self.economy.state = state
        self.params_version = params_version
        self.last_journal_id = last_journal_id
        self.loader = loader
        self._looked_up: set[str] = set(state.holders)
        self._dirty: set[str] = set()
        self._journals: list[BookedJournal] = []
        self._params: list[ParamsRow] = []
        self._pending: dict[str, tuple[str, StoredResult]] = {}

    # -- loading ------------------------------------------------------------------------------

    @property
    def state(self) -> EconomyState:
        return self.economy.state

    @property
    def params(self) -> Params:
        return self.economy.params

    def ensure(self, names: Iterable[str]) -> None:
        """Load the named holders not yet looked up (one loader call for all of them)."""
        wanted = self.unread(names)
        if not wanted:
            return
        if self.loader is None:
            raise RuntimeError("TenantBook.loader is not set; bind it to a connection first")
        self.read(wanted, self.loader(wanted))

    def unread(self, names: Iterable[str]) -> list[str]:
        """The names not looked up yet, sorted (what ``ensure`` would load)."""
        return sorted({n for n in names if n not in self._looked_up})

    def read(self, names: Iterable[str], found: Iterable[Holder]) -> None:
        """``names`` looked up by the caller (``found``: their rows that exist), as ``ensure``
        records its own loads."""
        holders = self.state.holders
        for h in found:
            holders.setdefault(h.name, h)
        self._looked_up.update(names)

    def known_absent(self, names: Iterable[str]) -> None:
        """Names that cannot have a holder row yet (ids made up in this very transaction, e.g.
        a first-seen shop user's): nothing is read for them; they start empty."""
        self._looked_up.update(n for n in names if n not in self.state.holders)

    def _ensure_chain(self, names: Iterable[str], depth: int | None) -> None:
        """Load ``names`` and their referrers up to ``depth`` levels (None: to the root)."""
        level = {n for n in names}
        seen: set[str] = set()
        steps = 0
        while level and (depth is None or steps <= depth):
            self.ensure(level)
            seen |= level
            holders = self.state.holders
            level = {
                ref
                for n in level
                if (h := holders.get(n)) is not None
                and (ref := h.referrer) is not None
                and ref not in seen
            }
            steps += 1

    def ensure_with_referrers(self, names: Iterable[str]) -> None:
        """Load ``names`` and the referrers a purchase of theirs would reward (a few loader
        calls for a whole batch of orders instead of one or more per order)."""
        self._ensure_chain(names, len(self.params.referral_rates))

    def prefetch(self, commands: Iterable[c.Command]) -> None:
        """Load every holder a batch of commands will touch, in a few loader calls."""
        names: set[str] = set()
        for command in commands:
            names.update(_names(command))
        self._ensure_chain(names, len(self.params.referral_rates))

    # -- applying -----------------------------------------------------------------------------

    def apply(self, command: c.Command, fingerprint: str | None = None) -> Applied:
        """Apply ``command``; ``fingerprint``: its ``fingerprint()`` if the caller has it (the
        writer's callers compute it on their own threads, off the writer's)."""
        if command.tenant_id != self.tenant_id:
            raise ValueError(f"command for {command.tenant_id} applied to {self.tenant_id}'s book")
        if isinstance(command, c.SettleDay):
            raise TypeError("settle a day with services.ledger.settlement.settle_in, then reload")
        key = command.idempotency_key
        if fingerprint is None:
            fingerprint = command.fingerprint()
        pending = self._pending.get(key)
        if pending is not None:
            if pending[0] != fingerprint:
                raise IdempotencyConflict(key)
            return Applied(pending[1], None, None)

        code, result, lines, touched = self._run(command)
        journal_id = self.last_journal_id + 1
        result = {"journal_id": journal_id, "code": str(code), **result}
        draft = build(code, key, fingerprint, result, lines)
        self.last_journal_id = journal_id
        self._dirty.update(touched)
        self._journals.append(BookedJournal(journal_id, draft))
        self._pending[key] = (fingerprint, result)
        return Applied(result, draft, journal_id)

    def _run(self, command: c.Command) -> tuple[JournalCode, StoredResult, list[Line], set[str]]:
        economy = self.economy
        if isinstance(command, c.Purchase):
            self._ensure_chain([command.user], len(self.params.referral_rates))
            if command.from_escrow:
                cashflow.take_from_escrow(economy.state, command.amount_fen)
            p = economy.purchase(command.user, command.amount_fen, command.contribution_fen)
            if command.from_escrow:
                cashflow.booked_from_escrow(economy.state, command.amount_fen)
            result = fe.purchase_result(p)
            if command.order_ref is not None:
                result["order_ref"] = command.order_ref
            touched = {command.user, *(g.holder for g in p.grants)}
            lines = fe.purchase_lines(p, command.from_escrow)
            return JournalCode.PURCHASE, result, lines, touched
        if isinstance(command, c.Sell):
            self.ensure([command.user])
            s = economy.sell(command.user, command.units)
            return JournalCode.BUYBACK, fe.sell_result(s), fe.sell_lines(s), {command.user}
        if isinstance(command, c.SellTo):
            self.ensure([command.user, command.payee])
            s = economy.sell_to(command.user, command.payee, command.units)
            result = {**fe.sell_result(s), "payee": command.payee}
            lines = fe.sell_to_lines(s, command.payee)
            return JournalCode.BUYBACK, result, lines, {command.user, command.payee}
        if isinstance(command, c.Convert):
            self.ensure([command.user])
            v = economy.convert(command.user, command.units)
            return JournalCode.CONVERT, fe.convert_result(v), fe.convert_lines(v), {command.user}
        if isinstance(command, c.PayStable):
            self.ensure([command.user, command.merchant])
            pay = economy.pay_stable(command.user, command.merchant, command.amount_fen)
            touched = {command.user, command.merchant}
            return (
                JournalCode.PAY_STABLE,
                fe.pay_stable_result(pay),
                fe.pay_stable_lines(pay),
                touched,
            )
        if isinstance(command, c.RedeemStable):
            self.ensure([command.merchant])
            r = economy.redeem_stable(command.merchant, command.amount_fen)
            return JournalCode.REDEEM_STABLE, fe.redeem_result(r), fe.redeem_lines(r), {r.merchant}
        if isinstance(command, c.Join):
            # The cycle check walks the whole chain above the referrer: load all of it.
            self._ensure_chain([command.user, command.referrer], None)
            economy.join(command.user, command.referrer)
            result = {"user": command.user, "referrer": command.referrer}
            return JournalCode.JOIN, result, [], {command.user, command.referrer}
        if isinstance(command, c.ChangeParams):
            new = economy.set_params(command.changes)
            self.params_version += 1
            public = new.to_public()
            row = ParamsRow(
                self.params_version, public, self.last_journal_id + 1, command.changed_by
            )
            self._params.append(row)
            result = {
                "params_version": self.params_version,
                "changes": json.loads(json.dumps(dict(command.changes))),
                "params": public,
                "changed_by": command.changed_by,
            }
            return JournalCode.PARAMS_CHANGE, result, [], set()
        if isinstance(command, c.CASHFLOW_COMMANDS):
            return self._run_cashflow(command)
        if isinstance(command, c.MARKET_COMMANDS):
            return self._run_market(command)
        raise TypeError(f"not a ledger command: {type(command).__name__}")

    def _run_cashflow(
        self, command: c.Command
    ) -> tuple[JournalCode, StoredResult, list[Line], set[str]]:
        """Money around the economy (domain/economy/cashflow.py); never changes the price."""
        state = self.economy.state
        if isinstance(command, c._OrderMoney):
            amount = command.amount_fen
            base: StoredResult = {
                "user": command.user,
                "order_ref": command.order_ref,
                "amount": format_money(amount),
            }
            if isinstance(command, c.ReceivePayment):
                cashflow.receive_payment(state, amount)
                return JournalCode.PAYMENT, base, fe.payment_lines(amount), set()
            if isinstance(command, c.ReceiveSale):
                cashflow.receive_sale(state, amount)
                return JournalCode.SALE, base, fe.sale_lines(amount), set()
            if isinstance(command, c.RefundStable):
                self.ensure([command.merchant, command.user])
                cashflow.refund_stable(state, command.merchant, command.user, amount)
                base["merchant"] = command.merchant
                lines = fe.refund_stable_lines(command.merchant, command.user, amount)
                return JournalCode.REFUND_STABLE, base, lines, {command.merchant, command.user}
            if isinstance(command, c.RefundPayment):
                cashflow.refund_payment(state, amount)
                return JournalCode.REFUND, base, fe.refund_lines(amount), set()
            assert isinstance(command, c.RefundBooked)
            cashflow.refund_booked(state, amount)
            base["approved_by"] = command.approved_by
            return JournalCode.REFUND_ADJUSTMENT, base, fe.refund_booked_lines(amount), set()
        if isinstance(command, c.FreezeCommissions):
            self._ensure_chain([command.buyer], MAX_REFERRAL_LEVELS)
            rates = tuple((r.numerator, r.denominator) for r in self.params.commission_rates)
            found = cashflow.commissions_for(state, command.buyer, command.amount_fen, rates)
            total = cashflow.freeze_commissions(state, found, command.revenue_fen)
            result: StoredResult = {
                "order_ref": command.order_ref,
                "buyer": command.buyer,
                "total": format_money(total),
                "commissions": fe.commissions_result(found),
            }
            return JournalCode.COMMISSION_FREEZE, result, fe.freeze_lines(total), set()
        if isinstance(command, c.ReleaseCommissions):
            payouts = list(command.payouts)
            self.ensure(name for name, _ in payouts)
            total = cashflow.release_commissions(state, payouts)
            result = {"order_ref": command.order_ref, "total": format_money(total)}
            touched = {name for name, _ in payouts}
            return JournalCode.COMMISSION_RELEASE, result, fe.release_lines(payouts), touched
        if isinstance(command, c.ClawbackCommissions):
            self.ensure(name for name, _ in (*command.frozen, *command.paid))
            frozen_total, taken = cashflow.clawback_commissions(
                state, list(command.frozen), list(command.paid)
            )
            result = {"order_ref": command.order_ref, **fe.clawback_result(frozen_total, taken)}
            touched = {t.holder for t in taken}
            lines = fe.clawback_lines(frozen_total, taken)
            return JournalCode.COMMISSION_CLAWBACK, result, lines, touched
        if isinstance(command, c.RepayDebt):
            self.ensure([command.user])
            cashflow.repay_debt(state, command.user, command.amount_fen)
            result = {"user": command.user, "amount": format_money(command.amount_fen)}
            lines = fe.repay_lines(command.user, command.amount_fen)
            return JournalCode.DEBT_REPAID, result, lines, {command.user}
        assert isinstance(command, c._Withdrawal)
        self.ensure([command.user])
        user, amount = command.user, command.amount_fen
        result = {
            "user": user,
            "withdrawal_ref": command.withdrawal_ref,
            "amount": format_money(amount),
        }
        if isinstance(command, c.HoldWithdrawal):
            cashflow.hold_withdrawal(state, user, amount)
            lines = fe.hold_withdrawal_lines(user, amount)
            return JournalCode.WITHDRAWAL_HOLD, result, lines, {user}
        if isinstance(command, c.PayWithdrawal):
            cashflow.pay_withdrawal(state, amount)
            return JournalCode.WITHDRAWAL_PAID, result, fe.pay_withdrawal_lines(amount), set()
        assert isinstance(command, c.ReleaseWithdrawal)
        cashflow.release_withdrawal(state, user, amount)
        lines = fe.release_withdrawal_lines(user, amount)
        return JournalCode.WITHDRAWAL_RELEASE, result, lines, {user}

    def _run_market(
        self, command: c.Command
    ) -> tuple[JournalCode, StoredResult, list[Line], set[str]]:
        """The market's money (domain/economy/market_cash.py); never points, quota or price."""
        state = self.economy.state
        if isinstance(command, c.MarketTrade):
            buyer, seller = command.buyer, command.seller
            self.ensure([buyer, seller])
            price, fee, royalty = command.price_fen, command.fee_fen, command.royalty_fen
            proceeds = market_cash.trade(
                state, buyer, seller, price, fee, royalty, from_escrow=command.from_escrow
            )
            result: StoredResult = {
                "ref": command.ref,
                "buyer": buyer,
                "seller": seller,
                "issuer": command.issuer,
                # Not "price": that key is the economy's point price (audit reads it).
                "trade_price": format_money(price),
                "fee": format_money(fee),
                "royalty": format_money(royalty),
                "proceeds": format_money(proceeds),
                "from_escrow": command.from_escrow,
            }
            lines = fe.market_trade_lines(buyer, seller, price, fee, royalty, command.from_escrow)
            return JournalCode.MARKET_TRADE, result, lines, {buyer, seller}
        if isinstance(command, c.RoyaltyPayout):
            issuer, amount = command.issuer, command.amount_fen
            self.ensure([issuer])
            market_cash.pay_royalty(state, issuer, amount)
            result = {"issuer": issuer, "period": command.period, "amount": format_money(amount)}
            return (
                JournalCode.ROYALTY_PAYOUT,
                result,
                fe.royalty_payout_lines(issuer, amount),
                {issuer},
            )
        assert isinstance(command, c._MarketMoney)
        user, amount = command.user, command.amount_fen
        self.ensure([user])
        result = {"user": user, "ref": command.ref, "amount": format_money(amount)}
        if isinstance(command, c.MarketDeposit):
            market_cash.deposit(state, user, amount)
            return JournalCode.MARKET_DEPOSIT, result, fe.market_deposit_lines(user, amount), {user}
        if isinstance(command, c.MarketReserve):
            market_cash.reserve(state, user, amount)
            return JournalCode.MARKET_RESERVE, result, fe.market_reserve_lines(user, amount), {user}
        assert isinstance(command, c.MarketRelease)
        market_cash.release(state, user, amount)
        return JournalCode.MARKET_RELEASE, result, fe.market_release_lines(user, amount), {user}

    # -- handing over what to write -----------------------------------------------------------

    def state_row(self) -> StateRow:
        row: StateRow = {name: getattr(self.state, name) for name in STATE_FIELDS}
        row["last_journal_id"] = self.last_journal_id
        row["params_version"] = self.params_version
        return row

    def take_batch(self, trim: bool = True) -> Batch:
        """Everything changed since the last call; the book starts a new batch.

        With ``trim`` the cache is emptied if it grew too large; a writer that applies the
        next batch before this one has committed passes False and calls ``trim()`` once it
        has (until then the cache is the only true copy of the holders this batch changed).
        """
        holders = self.state.holders
        batch = Batch(
            self.tenant_id,
            self.state_row(),
            [holder_row(holders[n]) for n in sorted(self._dirty)],
            self._journals,
            self._params,
        )
        self._dirty = set()
        self._journals = []
        self._params = []
        self._pending = {}
        if trim:
            self.trim()
        return batch

    @property
    def oversized(self) -> bool:
        """The cache holds more holders than it keeps (``trim`` would empty it)."""
        return len(self.state.holders) > MAX_CACHED_HOLDERS

    def trim(self) -> None:
        """Drop the cached holders if there are too many (only between batches)."""
        if self.oversized and not self._dirty:
            self.state.holders.clear()
            self._looked_up.clear()


def _names(command: c.Command) -> list[str]:
    found = []
    for attr in ("user", "merchant", "referrer", "buyer", "seller"):
        value = getattr(command, attr, None)
        if isinstance(value, str):
            found.append(value)
    return found


def load_book(store: Store, conn: Connection, tenant_id: str) -> TenantBook:
    """A fresh book of the tenant, its holder loader bound to ``conn``."""
    state, last_journal_id, version = store.read_state(conn, tenant_id)
    return book_of(store, conn, tenant_id, state, last_journal_id, version)


def book_of(
    store: Store,
    conn: Connection,
    tenant_id: str,
    state: EconomyState,
    last_journal_id: int,
    params_version: int,
) -> TenantBook:
    """A book from a state row already read (``Store.lock_state``), bound to ``conn``."""
    params = store.params_at(conn, tenant_id, params_version)
    book = TenantBook(tenant_id, params, params_version, state, last_journal_id)
    bind(store, book, conn)
    return book


def bind(store: Store, book: TenantBook, conn: Connection) -> None:
    """Point the book's lazy holder loads at ``conn`` (the writer does this per batch)."""
    book.loader = store.holder_loader(conn, book.tenant_id)
