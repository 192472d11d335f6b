"""``tokenmall report``: a live tenant's solvency report from the ledger."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated

import typer

from tokenmall.domain.economy.health import DEFAULT_WINDOW_DAYS
from tokenmall.domain.errors import DomainError
from tokenmall.domain.money import parse_money


def report_command(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant to report on.")],
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database URL (default: $TOKENMALL_DATABASE_URL, SQLite)."),
    ] = None,
    window: Annotated[
        int, typer.Option("--window", min=1, help="Days of sales that define the current inflow.")
    ] = DEFAULT_WINDOW_DAYS,
    inflow: Annotated[
        str | None, typer.Option("--inflow", help="Assume this daily inflow instead (money).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """What is backed, what is a promise, and how long current sales take to pay the promise."""
    # Imported here so that every other command starts without the database layer.
    from tokenmall.bootstrap import open_store
    from tokenmall.services.ledger.report import report, solvency

    store = open_store(database, must_exist=True)
    try:
        daily = parse_money(inflow, "--inflow", allow_zero=True) if inflow is not None else None
        with store.read() as conn:
            health = solvency(conn, tenant, datetime.now(UTC), window, daily)
    except DomainError as exc:
        typer.echo(f"tokenmall report: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        store.dispose()
    data = report(health, tenant, window).to_json()
    if as_json:
        typer.echo(json.dumps(data, ensure_ascii=False))
        return
    typer.echo(f"tenant {tenant} — solvency report (inflow over the last {window} days)")
    for name, value in data.items():
        if name != "statement":
            typer.echo(f"  {name:<24} {value}")
    typer.echo("")
    for line in data["statement"]:
        typer.echo(f"- {line}")
