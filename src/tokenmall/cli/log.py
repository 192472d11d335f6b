"""``tokenmall log verify`` and ``tokenmall log sign``: the transparency log from the shell.

``verify`` recomputes every tenant's tree (or one's) from its stored leaves and checks every
node, checkpoint, logged ledger day and the registry's state against the log; it prints one
line per tenant and exits 0 when everything holds, 1 naming the first broken leaf, node,
checkpoint, day or token otherwise, 2 for bad input. ``sign`` logs the settled ledger days not
logged yet and signs a checkpoint where one is due (the scheduler does the same every tick).
``verify --jobs N`` checks a log of 100,000 leaves or more in N worker processes (default one a
core, at most 8), with the same verdicts. ``verify --anchors`` also checks every recorded anchor
against its chain (the transaction's ``Anchored`` event against the signed checkpoint, the block
still holding it). ``anchor`` runs the anchoring job once; ``anchor-deploy`` deploys the
contract from a tenant's account.
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


Jobs = Annotated[
    int | None,
    typer.Option(
        "--jobs",
        min=1,
        help="Worker processes for a log of 100,000 leaves or more (default: one a core, "
        "at most 8; 1: one process).",
    ),
]

Anchors = Annotated[
    bool,
    typer.Option("--anchors", help="Also check every recorded anchor against its chain."),
]


@app.command("verify")
def verify(
    database: DatabaseUrl = None, tenant: Tenant = None, anchors: Anchors = False, jobs: Jobs = None
) -> None:
    """Recompute every log and check it; exit 1 naming the first thing broken."""
    from tokenmall import bootstrap
    from tokenmall.services.log import anchor_verify, fanout, public

    settings = Settings()
    db = bootstrap.open_database(bootstrap.resolve_url(database), must_exist=True)
    try:
        bootstrap.upgrade(db.engine)
        config = bootstrap.log_config(settings.secret_key.get_secret_value(), settings.log_host)
        verdicts = public.verify(
            db,
            config,
            tenant,
            bootstrap.log_state_checks(db),
            jobs=fanout.default_jobs() if jobs is None else jobs,
        )
        anchored = (
            anchor_verify.verify_anchors(
                db, config, bootstrap.anchoring(settings.secret_key.get_secret_value()), tenant
            )
            if anchors
            else []
        )
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
    for a in anchored:
        state = "ok" if a.problem is None else f"BROKEN: {a.problem}"
        covered = f", {a.dropped} dropped, covered by a newer anchor" if a.dropped else ""
        typer.echo(
            f"tenant {a.tenant_id}: {a.checked} anchors checked on chain, "
            f"{a.unconfirmed} not confirmed{covered}: {state}"
        )
        broken += a.problem is not None
    if anchors and not anchored:
        typer.echo("no anchors")
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


@app.command("anchor")
def anchor(database: DatabaseUrl = None, tenant: Tenant = None) -> None:
    """Anchor each configured tenant's newest signed checkpoint (the scheduler does it too)."""
    from tokenmall import bootstrap
    from tokenmall.services.log import anchoring
    from tokenmall.services.mall.uow import utc_now

    settings = Settings()
    secret = settings.secret_key.get_secret_value()
    db = bootstrap.open_database(bootstrap.resolve_url(database), must_exist=True)
    try:
        bootstrap.upgrade(db.engine)
        config = bootstrap.log_config(secret, settings.log_host)
        outcomes = anchoring.anchor_due(db, config, bootstrap.anchoring(secret), utc_now(), tenant)
    finally:
        db.dispose()
    for outcome in outcomes:
        typer.echo(outcome.line())
    if not outcomes:
        typer.echo("no tenant has anchoring settings")
    if any(o.status == "failed" for o in outcomes):
        raise typer.Exit(1)


@app.command("anchor-deploy")
def anchor_deploy(
    tenant: Annotated[str, typer.Option("--tenant", help="The tenant whose account deploys.")],
    database: DatabaseUrl = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the deployed contract with a new one.")
    ] = False,
) -> None:
    """Deploy the anchoring contract from the tenant's account and store its address."""
    from tokenmall import bootstrap
    from tokenmall.domain.log.anchors import ChainError
    from tokenmall.services.log import anchor_settings
    from tokenmall.services.mall.uow import utc_now

    settings = Settings()
    db = bootstrap.open_database(bootstrap.resolve_url(database), must_exist=True)
    try:
        bootstrap.upgrade(db.engine)
        anchoring = bootstrap.anchoring(settings.secret_key.get_secret_value())
        done = anchor_settings.deploy(db, anchoring, tenant, utc_now(), replace_deployed=replace)
    except (DomainError, ChainError) as exc:
        typer.echo(f"tokenmall log anchor-deploy: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(
        f"tenant {tenant}: contract deployed at {done.address} "
        f"(transaction {done.tx_hash}, block {done.block_number})"
    )
    if done.replaced:
        typer.echo(f"it replaces {done.replaced}: checkpoints are anchored again on the new one")
