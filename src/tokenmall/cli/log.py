"""``tokenmall log verify`` and ``tokenmall log sign``: the transparency log from the shell.

``verify`` recomputes every tenant's tree (or one's) from its stored leaves and checks every
node, checkpoint, logged ledger day and the registry's state against the log; it prints one
line per tenant and exits 0 when everything holds, 1 naming the first broken leaf, node,
checkpoint, day or token otherwise, 2 for bad input. ``sign`` logs the settled ledger days not
logged yet and signs a checkpoint where one is due (the scheduler does the same every tick).
"""

from __future__ import annotations

from typing import Annotated

import typer

from tokenmall.config import Settings
from tokenmall.domain.errors import DomainError

app = typer.Typer(
    help="The transparency log: verify it, sign its checkpoints.", no_args_is_help=True
)

DatabaseUrl = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: $TOKENMALL_DATABASE_URL, SQLite)."),
]
Tenant = Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")]


@app.command("verify")
def verify(database: DatabaseUrl = None, tenant: Tenant = None) -> None:
    """Recompute every log and check it; exit 1 naming the first thing broken."""
    from tokenmall import bootstrap
    from tokenmall.services.log import public

    settings = Settings()
    db = bootstrap.open_database(bootstrap.resolve_url(database), must_exist=True)
    try:
        bootstrap.upgrade(db.engine)
        config = bootstrap.log_config(settings.secret_key.get_secret_value(), settings.log_host)
        verdicts = public.verify(db, config, tenant, bootstrap.log_state_checks())
    except DomainError as exc:
        typer.echo(f"tokenmall log verify: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    broken = 0
    for v in verdicts:
        state = "ok" if v.problem is None else f"BROKEN: {v.problem}"
        typer.echo(
            f"tenant {v.tenant_id}: {v.size} leaves, {v.checkpoints} checkpoints, "
            f"{v.days} ledger days: {state}"
        )
        broken += v.problem is not None
    if not verdicts:
        typer.echo("no logs")
    if broken:
        typer.echo(f"log verify FAILED: {broken} tenant(s)")
        raise typer.Exit(1)
    typer.echo("log verify clean")


@app.command("sign")
def sign(database: DatabaseUrl = None) -> None:
    """Log the settled ledger days not logged yet; sign the checkpoints that are due."""
    from tokenmall import bootstrap
    from tokenmall.services.log import public
    from tokenmall.services.mall.uow import utc_now

    settings = Settings()
    db = bootstrap.open_database(bootstrap.resolve_url(database), must_exist=True)
    try:
        bootstrap.upgrade(db.engine)
        config = bootstrap.log_config(settings.secret_key.get_secret_value(), settings.log_host)
        sizes = public.tick(db, config, utc_now())
    finally:
        db.dispose()
    for tenant_id, size in sizes.items():
        typer.echo(f"tenant {tenant_id}: {size} leaves")
    if not sizes:
        typer.echo("no logs")
