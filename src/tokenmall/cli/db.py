"""``tokenmall db …``: database schema commands."""

from __future__ import annotations

import time
from typing import Annotated

import typer

app = typer.Typer(help="Database schema commands.", no_args_is_help=True)

Database = Annotated[
    str | None,
    typer.Option("--database", help="Database URL (default: $TOKENMALL_DATABASE_URL, SQLite)."),
]


@app.command("upgrade")
def upgrade(
    database: Database = None,
    citus: Annotated[
        bool,
        typer.Option(
            "--citus",
            help="The database is a Citus coordinator: refuse it when the extension is missing "
            "(default: $TOKENMALL_CITUS_REQUIRED; with Citus there, it is used anyway).",
        ),
    ] = False,
) -> None:
    """Bring the database to the newest schema (Alembic migrations shipped in the package).

    On a Citus coordinator the tables are distributed by tenant (reference tables for the
    platform's own), in the same transaction."""
    # Imported here so that every other command starts without the database layer.
    from tokenmall import bootstrap

    db = bootstrap.open_database(bootstrap.resolve_url(database))
    try:
        ran = bootstrap.upgrade(db.engine, citus_required=citus or None)
        cluster = bootstrap.citus_summary(db.engine)
    finally:
        db.dispose()
    heads = ", ".join(sorted(bootstrap.heads()))
    typer.echo(f"database at {heads}" + (" (upgraded)" if ran else " (already current)"))
    if cluster is not None:
        typer.echo(cluster)


@app.command("analyze")
def analyze(
    database: Database = None,
) -> None:
    """Refresh the planner's statistics of every table (ANALYZE).

    PostgreSQL's autovacuum does it on a live database; where autovacuum is off (the server
    warns at start-up), run this after large changes: a table never analysed may be planned
    as if each tenant had one row."""
    from tokenmall import bootstrap

    db = bootstrap.open_database(bootstrap.resolve_url(database), must_exist=True)
    try:
        started = time.perf_counter()
        bootstrap.analyze(db.engine)
        took = time.perf_counter() - started
        kept = bootstrap.statistics_kept(db.engine)
    finally:
        db.dispose()
    typer.echo(f"statistics refreshed in {took:.1f} s")
    if not kept:
        typer.echo("autovacuum is off: run this again after large changes")


@app.command("move-tenant")
def move_tenant(
    tenant: Annotated[str, typer.Argument(help="The tenant to move.")],
    to: Annotated[str, typer.Option("--to", help="The worker to move it to, as host:port.")],
    database: Annotated[
        str | None,
        typer.Option("--database", help="The Citus coordinator's URL (default: the settings')."),
    ] = None,
    mode: Annotated[
        str,
        typer.Option(
            help="block_writes (the tenant's writes wait while its shards copy), auto or "
            "force_logical (logical replication: wal_level = logical on the workers)."
        ),
    ] = "block_writes",
) -> None:
    """Citus: move a tenant's shard group (every table's rows of its tenants) to another
    worker, online (citus_move_shard_placement); its writer goes on booking."""
    from tokenmall import bootstrap

    db = bootstrap.open_database(bootstrap.resolve_url(database))
    try:
        typer.echo(bootstrap.move_tenant(db.engine, tenant, to, mode))
    finally:
        db.dispose()
