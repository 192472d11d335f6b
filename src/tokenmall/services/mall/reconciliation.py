"""The daily reconciliation (对账): a channel's bill of a day against what the shop booked.

For a tenant and a business day (in the business time zone), each channel's bill is fetched
(``Bills.download_bill``, outside any transaction), the payments and refunds the shop booked
through that channel in the day are read, and ``compare`` classifies every line: matched,
missing in the ledger (the channel has it, the shop did not book it), missing at the channel,
or amount differs. The report (counts, totals and every line, mismatches first) is stored,
replacing an earlier run of the same day, so running it again is safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo

from tokenmall.domain.mall.payouts import BillKind, BillLine, Outcome, ReconLine, ReconReport
from tokenmall.domain.mall.people import Scope
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.people import ADMIN
from tokenmall.services.mall.settling import BUSINESS_TZ
from tokenmall.services.mall.uow import Database
from tokenmall.services.unit_of_work import UnitOfWork
from tokenmall.services.unit_of_work_payouts import BillSources

_ORDER = {outcome: n for n, outcome in enumerate(Outcome)}  # the mismatches first


def compare(bill: Sequence[BillLine], ledger: Sequence[BillLine]) -> list[ReconLine]:
    """Each line of either side, keyed by (kind, the shop's reference), classified; the
    mismatches first, then by kind and reference. Lines of one side with the same key are
    added up first, so a payment booked twice differs instead of matching."""
    at_channel, booked = _summed(bill), _summed(ledger)
    out: list[ReconLine] = []
    for key in at_channel.keys() | booked.keys():
        theirs, ours = at_channel.get(key), booked.get(key)
        if ours is None:
            outcome = Outcome.MISSING_IN_LEDGER
        elif theirs is None:
            outcome = Outcome.MISSING_AT_CHANNEL
        elif theirs.amount_fen != ours.amount_fen:
            outcome = Outcome.AMOUNT_DIFFERS
        else:
            outcome = Outcome.MATCHED
        out.append(
            ReconLine(
                kind=key[0],
                reference=key[1],
                outcome=outcome,
                bill_fen=None if theirs is None else theirs.amount_fen,
                ledger_fen=None if ours is None else ours.amount_fen,
                channel_ref=_ref(theirs, ours),
            )
        )
    out.sort(key=lambda line: (_ORDER[line.outcome], line.kind, line.reference))
    return out


def _summed(lines: Sequence[BillLine]) -> dict[tuple[BillKind, str], BillLine]:
    out: dict[tuple[BillKind, str], BillLine] = {}
    for line in lines:
        key = (line.kind, line.reference)
        seen = out.get(key)
        out[key] = (
            line if seen is None else replace(seen, amount_fen=seen.amount_fen + line.amount_fen)
        )
    return out


def _ref(theirs: BillLine | None, ours: BillLine | None) -> str | None:
    if theirs is not None and theirs.channel_ref:
        return theirs.channel_ref
    return None if ours is None else ours.channel_ref


@dataclass(frozen=True, slots=True)
class Reconciled:
    report: ReconReport
    lines: list[ReconLine]


def day_window(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """The business day in ``tz`` as [start, end) in UTC (how every time is stored)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def reconcile(
    db: Database,
    sources: BillSources,
    tenant_id: str,
    day: date,
    now: datetime,
    tz: tzinfo = BUSINESS_TZ,
) -> list[Reconciled]:
    """Reconcile the tenant's ``day`` with each of its channels; each report stored."""
    start, end = day_window(day, tz)
    done = []
    for channel, bills in sorted(sources.of(tenant_id).items()):
        bill = bills.download_bill(channel=channel, day=day)
        with db.unit() as uow:
            booked = uow.payouts.ledger_lines(tenant_id, channel, start, end)
            lines = compare(bill, booked)
            counts = {o: sum(1 for line in lines if line.outcome == o) for o in Outcome}
            report = ReconReport(
                tenant_id=tenant_id,
                day=day,
                channel=channel,
                matched=counts[Outcome.MATCHED],
                missing_in_ledger=counts[Outcome.MISSING_IN_LEDGER],
                missing_at_channel=counts[Outcome.MISSING_AT_CHANNEL],
                amount_differs=counts[Outcome.AMOUNT_DIFFERS],
                bill_total_fen=sum(line.amount_fen for line in bill),
                ledger_total_fen=sum(line.amount_fen for line in booked),
                run_at=now,
            )
            uow.payouts.put_report(report, lines)
        done.append(Reconciled(report, lines))
    return done


def mall_tenants(db: Database) -> list[str]:
    """The tenants a reconciliation runs for: the mall's (a ledger-only tenant takes no
    payments)."""
    found: list[str] = []
    with db.reading() as uow:
        while True:
            batch = uow.tenants.list_all(found[-1] if found else None, 500)
            found.extend(t.tenant_id for t in batch)
            if len(batch) < 500:
                return found


def reports(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, limit: int = 60
) -> list[ReconReport]:
    """The tenant's stored reports, newest day first (admins)."""
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    return uow.payouts.reports(tenant_id, day=None, limit=limit)


def day_reports(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, day: date
) -> list[Reconciled]:
    """A day's report of each channel with its lines, mismatches first (admins)."""
    require(caller, tenant_id, ADMIN, scope=Scope.READ)
    found = uow.payouts.reports(tenant_id, day=day, limit=50)
    if not found:
        raise NotFound(f"no reconciliation of {day.isoformat()}", "day")
    return [Reconciled(r, uow.payouts.report_lines(tenant_id, day, r.channel)) for r in found]
