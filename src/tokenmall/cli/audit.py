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
) -> None:
    """Rebuild every balance from the postings and check economy.md's invariants.

    Prints what it found; exits 1 if anything is wrong, 0 if everything holds."""
    # Imported here so that every other command starts without the database layer.
    from tokenmall.adapters.db.store import Store
    from tokenmall.services.audit import audit as run_audit

    store = Store.open(database)
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
        for finding in r.findings:
            typer.echo(f"  - {finding}")
        bad += len(r.findings)
    if not reports:
        typer.echo("no tenants")
    if bad:
        typer.echo(f"audit FAILED: {bad} violation(s)")
        raise typer.Exit(1)
    typer.echo("audit clean")
