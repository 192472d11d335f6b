"""``tokenmall db …``: database schema commands."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(help="Database schema commands.", no_args_is_help=True)


@app.command("upgrade")
def upgrade(
    database: Annotated[
        str | None,
        typer.Option("--database", help="Database URL (default: $TOKENMALL_DATABASE_URL, SQLite)."),
    ] = None,
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
