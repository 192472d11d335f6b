"""``tokenmall reconcile [--date D] [--tenant T]``: the daily reconciliation (对账), by hand.

For each tenant (or one) and each of its channels, the channel's bill of the business day is
compared with the payments and refunds the shop booked; the report is stored (the console shows
it) and printed: one summary line per channel, then every line that does not match. Exits 0
when everything matches, 1 when anything does not, 2 on bad input (a malformed date, a day
that has not begun, an unknown tenant).
"""

from __future__ import annotations

from datetime import date, timedelta, tzinfo
from typing import Annotated, Any

import typer

from tokenmall.domain.errors import DomainError

Database_ = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: $TOKENMALL_DATABASE_URL, SQLite)."),
]
Timezone = Annotated[
    str,
    typer.Option("--timezone", help="Business time zone: +08:00 or an IANA name (default UTC+8)."),
]


def _fail(message: str) -> typer.Exit:
    typer.echo(f"tokenmall reconcile: {message}", err=True)
    return typer.Exit(2)


def _tz(text: str) -> tzinfo:
    from tokenmall.services.mall.settling import parse_timezone

    try:
        return parse_timezone(text)
    except ValueError as exc:
        raise _fail(f"--timezone: {exc}") from None


def _money(fen: int | None) -> str:
    from tokenmall.domain.money import format_money

    return "-" if fen is None else format_money(fen)


def report_lines(done: Any) -> list[str]:
    """A channel's summary line, then its mismatches."""
    r = done.report
    out = [
        f"tenant {r.tenant_id} {r.day.isoformat()} {r.channel}: {r.matched} matched, "
        f"{r.missing_in_ledger} missing_in_ledger, {r.missing_at_channel} missing_at_channel, "
        f"{r.amount_differs} amount_differs (bill {_money(r.bill_total_fen)}, "
        f"ledger {_money(r.ledger_total_fen)})"
    ]
    for line in done.lines:
        if line.outcome != "matched":
            out.append(
                f"  {line.outcome} {line.kind} {line.reference}: bill {_money(line.bill_fen)}, "
                f"ledger {_money(line.ledger_fen)}"
            )
    return out


def reconcile(
    day: Annotated[
        str | None,
        typer.Option("--date", help="Business day YYYY-MM-DD (default: yesterday)."),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
    database: Database_ = None,
    timezone_: Timezone = "+08:00",
) -> None:
    """Compare each channel's bill of a day with the ledger; exit 1 when anything differs."""
    from tokenmall import bootstrap
    from tokenmall.config import Settings
    from tokenmall.services.mall import reconciliation
    from tokenmall.services.mall.errors import InvalidInput
    from tokenmall.services.mall.settling import parse_date, yesterday
    from tokenmall.services.mall.uow import Database, utc_now

    tz = _tz(timezone_)
    now = utc_now()
    try:
        when: date = yesterday(now, tz) if day is None else parse_date(day, "--date")
    except InvalidInput as exc:
        raise _fail(str(exc)) from None
    if when > yesterday(now, tz) + timedelta(days=1):
        raise _fail(f"--date: {when.isoformat()} has not begun yet")
    store = bootstrap.open_store(database, must_exist=True)
    try:
        db = Database(store.engine)
        tenants = reconciliation.mall_tenants(db)
        if tenant is not None:
            if tenant not in tenants:
                raise _fail(f"--tenant: no tenant {tenant!r}")
            tenants = [tenant]
        sources = bootstrap.bill_sources(db, bootstrap.configured_channels(Settings()), tz)
        differs = 0
        for tenant_id in tenants:
            try:
                done_all = reconciliation.reconcile(db, sources, tenant_id, when, now, tz)
            except DomainError as exc:  # a channel's bill not there yet, or not fetched
                typer.echo(f"tenant {tenant_id} {when.isoformat()}: {exc}", err=True)
                differs += 1
                continue
            for done in done_all:
                differs += done.report.mismatches
                for text in report_lines(done):
                    typer.echo(text)
    finally:
        store.dispose()
    if not tenants:
        typer.echo("no tenants")
    if differs:
        raise typer.Exit(1)
