"""A person's statement of movements (流水): the caller's own, or (admins) a named user's;
paged newest first by journal id, filtered by what moved (points, cash, stable points).

A store's statement is its owner's view of the store's own holdings (the ledger's holder is
the merchant id): the royalties the market paid it (版税收入) and the withdrawals of them, with
the store's cash and what is being withdrawn."""

from __future__ import annotations

from dataclasses import dataclass

from tokenmall.domain.mall.people import Role, Scope
from tokenmall.domain.mall.statement import MAX_PAGE, Holding, Movement
from tokenmall.domain.mall.withdrawals import Withdrawal
from tokenmall.services.mall import withdrawals
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput, NotFound
from tokenmall.services.mall.wallet import subject_of
from tokenmall.services.unit_of_work import UnitOfWork

CSV_LIMIT = 10_000  # lines in one export; older ones by paging with ``before``
LINES_PER_JOURNAL = len(Holding)


@dataclass(frozen=True, slots=True)
class StatementPage:
    user_id: str
    lines: list[Movement]
    next_before: int | None  # the ``before`` of the next (older) page; None: no more


@dataclass(frozen=True, slots=True)
class StoreStatement:
    """The caller's store: its cash and what its withdrawals hold (fen), a page of its
    movements, and a page of its withdrawals (in id order; ``withdrawals_next_after`` the
    cursor of the next page, None on the last)."""

    merchant_id: str
    name: str
    cash: int
    withdrawing: int
    page: StatementPage
    withdrawals: list[Withdrawal]
    withdrawals_next_after: str | None = None


def holding_of(text: str | None, field: str = "holding") -> Holding | None:
    if text is None or text == "":
        return None
    try:
        return Holding(text)
    except ValueError:
        names = ", ".join(h.value for h in Holding)
        raise InvalidInput(f"{field} must be one of {names}", field) from None


def statement(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    before: int | None = None,
    limit: int = 50,
    holding: Holding | None = None,
    user_id: str | None = None,
) -> StatementPage:
    """One page of the statement, ``limit`` lines (1..MAX_PAGE) of journals before ``before``."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}", "limit")
    if before is not None and before < 1:
        raise InvalidInput("before must be a journal id (1 or more)", "before")
    subject = subject_of(uow, caller, tenant_id, user_id)
    return _page(uow, tenant_id, subject, before, limit, holding)


def _page(
    uow: UnitOfWork,
    tenant_id: str,
    subject: str,
    before: int | None,
    limit: int,
    holding: Holding | None,
) -> StatementPage:
    # A journal moves at most LINES_PER_JOURNAL holdings of one person: a page ends at a whole
    # journal (up to that many lines over ``limit``), so the next one starts at the one after.
    lines = uow.holdings.movements(
        tenant_id, subject, before=before, limit=limit + LINES_PER_JOURNAL, holding=holding
    )
    if len(lines) <= limit:
        return StatementPage(subject, lines, None)
    cut = limit
    while cut < len(lines) and lines[cut].journal_id == lines[cut - 1].journal_id:
        cut += 1
    kept = lines[:cut]
    return StatementPage(subject, kept, kept[-1].journal_id if cut < len(lines) else None)


def export(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    holding: Holding | None = None,
    user_id: str | None = None,
) -> StatementPage:
    """The newest lines, up to about ``CSV_LIMIT`` (``next_before``: where older ones start)."""
    subject = subject_of(uow, caller, tenant_id, user_id)
    lines: list[Movement] = []
    before: int | None = None
    while True:
        page = _page(uow, tenant_id, subject, before, MAX_PAGE, holding)
        lines.extend(page.lines)
        before = page.next_before
        if before is None or len(lines) >= CSV_LIMIT:
            return StatementPage(subject, lines, before)


def store_statement(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    before: int | None = None,
    limit: int = 50,
    holding: Holding | None = None,
    withdrawals_after: str | None = None,
    withdrawals_limit: int = 50,
) -> StoreStatement:
    """The store of the calling merchant: one page of its movements and one of its
    withdrawals (after the withdrawal ``withdrawals_after``)."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}", "limit")
    if before is not None and before < 1:
        raise InvalidInput("before must be a journal id (1 or more)", "before")
    if not 1 <= withdrawals_limit < MAX_PAGE:  # one more is read to see if a page follows
        raise InvalidInput(
            f"withdrawals_limit must be from 1 to {MAX_PAGE - 1}", "withdrawals_limit"
        )
    who = require(caller, tenant_id, (Role.MERCHANT,), scope=Scope.READ)
    store = uow.catalogue.merchant_of_owner(tenant_id, who.subject_id)
    if store is None:
        raise NotFound("you have no store yet")
    holder = str(store.merchant_id)
    asked = withdrawals.list_withdrawals(
        uow,
        caller,
        tenant_id,
        status=None,
        user_id=None,
        after=withdrawals_after,
        limit=withdrawals_limit + 1,
        merchant_id=holder,
        after_field="withdrawals_after",
    )
    shown = asked[:withdrawals_limit]
    more = len(asked) > withdrawals_limit
    return StoreStatement(
        holder,
        str(store.name),
        uow.cash.cash_of(tenant_id, holder),
        uow.trades.withdrawing(tenant_id, holder),
        _page(uow, tenant_id, holder, before, limit, holding),
        shown,
        shown[-1].withdrawal_id if more else None,
    )
