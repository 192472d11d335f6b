"""The issuers' royalties (版税): what the market's trades accrued to each issuer (the merchant
issuing the collection, or ``platform``) and their payouts.

A payout moves an issuer's accrued royalties (its trades' royalties up to the day, less every
payout before) out of the ledger's ``royalties`` account into the issuer's cash, its payable
balance, as one ``royalty_payout`` journal, and records a ``market_royalty_payouts`` row in
the same transaction. One payout per issuer and business day: the journal's idempotency key
and the row's unique key both name the day, so a rerun changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from tokenmall.adapters.db.market.royalties import PayoutRow as PayoutRow
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.people import Role, Scope
from tokenmall.services.mall import journal
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.settling import parse_date
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.market.state import business_day

ADMIN = (Role.ADMIN,)
MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class IssuerRoyalties:
    """One issuer's royalties, in fen: earned by its trades, paid out, still accrued."""

    issuer_id: str
    earned: int
    paid: int

    @property
    def accrued(self) -> int:
        return self.earned - self.paid


@dataclass(frozen=True, slots=True)
class RoyaltyReport:
    issuers: tuple[IssuerRoyalties, ...]
    payouts: tuple[PayoutRow, ...]
    total: int  # payouts matching, over every page
    limit: int
    offset: int


def pay_out(unit: MallUnitOfWork, tenant_id: str, day: date, now: datetime) -> list[PayoutRow]:
    """Pay each issuer what its trades of business days up to ``day`` accrued and no payout
    took yet; issuers already paid for ``day`` are skipped. Returns the payouts made."""
    market = unit.market
    market.lock_payouts(tenant_id)
    done = market.paid_on(tenant_id, day)
    earned = market.royalties_earned(tenant_id, through=day)
    paid = market.royalties_paid(tenant_id)
    made: list[PayoutRow] = []
    for issuer in sorted(earned):
        owed = earned[issuer] - paid.get(issuer, 0)
        if issuer in done or owed <= 0:
            continue
        result = journal.run(
            unit.conn,
            c.RoyaltyPayout(
                tenant_id=tenant_id,
                idempotency_key=f"market:royalty:{day.isoformat()}:{issuer}",
                issuer=issuer,
                period=day.isoformat(),
                amount_fen=owed,
            ),
        )
        journal_id = int(result["journal_id"])
        row = PayoutRow(tenant_id, journal_id, issuer, day, owed, journal_id, now)
        market.add_payout(row)
        made.append(row)
    return made


def payout(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    now: datetime,
    day_text: str | None = None,
) -> list[PayoutRow]:
    """The admin's payout through ``day_text`` (YYYY-MM-DD; default: today's business day;
    never a day still to come)."""
    require(caller, tenant_id, ADMIN)
    today = business_day(now)
    day = today if day_text is None else parse_date(day_text, "day")
    if day > today:
        raise InvalidInput(f"day {day.isoformat()} has not come yet", "day")
    return pay_out(unit, tenant_id, day, now)


def _issuer_of(unit: MallUnitOfWork, caller: Principal, tenant_id: str) -> str | None:
    """Whose royalties the caller may read: an admin every issuer's, a merchant its store's."""
    if caller.role == Role.ADMIN:
        return None
    own = unit.catalogue.merchant_of_owner(tenant_id, caller.subject_id)
    if own is None:
        raise InvalidInput("you have no store yet: no royalties to show", "issuer")
    return str(own.merchant_id)


def report(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    limit: int = 50,
    offset: int = 0,
) -> RoyaltyReport:
    """Each issuer's earned, paid and accrued royalties, and a page of payouts, newest first.
    An admin sees every issuer; a merchant its own store's."""
    who = require(caller, tenant_id, (Role.ADMIN, Role.MERCHANT), scope=Scope.READ)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be from 1 to {MAX_PAGE}", "limit")
    if offset < 0:
        raise InvalidInput("offset must not be negative", "offset")
    issuer = _issuer_of(unit, who, tenant_id)
    market = unit.market
    earned = market.royalties_earned(tenant_id, issuer_id=issuer)
    paid = market.royalties_paid(tenant_id, issuer_id=issuer)
    names = sorted(set(earned) | set(paid) | ({issuer} if issuer is not None else set()))
    issuers = tuple(IssuerRoyalties(n, earned.get(n, 0), paid.get(n, 0)) for n in names)
    page, total = market.payouts(tenant_id, issuer_id=issuer, limit=limit, offset=offset)
    return RoyaltyReport(issuers, tuple(page), total, limit, offset)


def issuer_names(unit: MallUnitOfWork, tenant_id: str, shown: RoyaltyReport) -> dict[str, str]:
    """The merchants' names of the issuers ``shown`` names (``platform`` is not a merchant)."""
    ids = {i.issuer_id for i in shown.issuers} | {p.issuer_id for p in shown.payouts}
    names: dict[str, str] = {}
    for issuer in sorted(ids - {"platform"}):
        found = unit.catalogue.get_merchant(tenant_id, issuer)
        if found is not None:
            names[issuer] = str(found.name)
    return names
