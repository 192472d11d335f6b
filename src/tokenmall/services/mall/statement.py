"""A person's statement of movements (流水): the caller's own, or (admins) a named user's;
paged newest first by journal id, filtered by what moved (points, cash, stable points)."""

from __future__ import annotations

from dataclasses import dataclass

from tokenmall.domain.mall.statement import MAX_PAGE, Holding, Movement
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.wallet import subject_of
from tokenmall.services.unit_of_work import UnitOfWork

CSV_LIMIT = 10_000  # lines in one export; older ones by paging with ``before``
LINES_PER_JOURNAL = len(Holding)


@dataclass(frozen=True, slots=True)
class StatementPage:
    user_id: str
    lines: list[Movement]
    next_before: int | None  # the ``before`` of the next (older) page; None: no more


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
