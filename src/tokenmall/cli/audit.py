"""``tokenmall audit``: rebuild every balance from the journals and check the invariants."""

from __future__ import annotations

from typing import Annotated

import typer

from tokenmall.domain.errors import DomainError


def audit(
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database URL (default: $TOKENMALL_DATABASE_URL, SQLite)."),
    ] = None,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Audit only this tenant.")] = None,
    show: Annotated[
        int,
        typer.Option(
            "--show",
            min=0,
            help="Violations to print per tenant, in the order found (0: all of them).",
        ),
    ] = 50,
) -> None:
    """Rebuild every balance from the postings and check economy.md's invariants.

    Prints what it found; exits 1 if anything is wrong, 0 if everything holds. A tenant with
    more violations than ``--show`` gets the first ones and a count of the rest: a broken
    history of a million holders would otherwise print millions of lines."""
    # Imported here so that every other command starts without the database layer.
    from tokenmall.bootstrap import open_store
    from tokenmall.services.ledger.audit import audit as run_audit

    store = open_store(database, must_exist=True)
    try:
        reports = run_audit(store, tenant)
    except DomainError as exc:
        typer.echo(f"tokenmall audit: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.dispose()
    bad = 0
    for r in reports:
        status = "ok" if not r.findings else f"{len(r.findings)} violation(s)"
        typer.echo(
            f"tenant {r.tenant_id}: {r.journals} journals, {r.postings} postings, "
            f"{r.holders} holders: {status}"
        )
        shown = r.findings if show == 0 else r.findings[:show]
        for finding in shown:
            typer.echo(f"  - {finding}")
        if len(shown) < len(r.findings):
            typer.echo(f"  … and {len(r.findings) - len(shown)} more (--show 0 prints them all)")
        bad += len(r.findings)
    if not reports:
        typer.echo("no tenants")
    if bad:
        typer.echo(f"audit FAILED: {bad} violation(s)")
        raise typer.Exit(1)
    typer.echo("audit clean")
