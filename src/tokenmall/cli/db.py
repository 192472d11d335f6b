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
) -> None:
    """Bring the database to the newest schema (Alembic migrations shipped in the package)."""
    # Imported here so that every other command starts without the database layer.
    from tokenmall import bootstrap

    db = bootstrap.open_database(bootstrap.resolve_url(database))
    try:
        ran = bootstrap.upgrade(db.engine)
    finally:
        db.dispose()
    heads = ", ".join(sorted(bootstrap.heads()))
    typer.echo(f"database at {heads}" + (" (upgraded)" if ran else " (already current)"))
