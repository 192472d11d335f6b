"""``tokenmall demo [--port P] [--database URL]``: the living demo.

Sets up (once; re-running is safe) an embedded SQLite database with the seed's wine brand and a
fortnight of orders and daily settlements (``demo/living.py``), prints the logins, and serves
the pages and the API at http://127.0.0.1:8000 in development mode (``TOKENMALL_ENV``): the
sandbox gateway and the built-in secret key, with a warning on every page and in the log.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from tokenmall.config import Settings


def demo_settings(url: str, host: str, port: int, home_tenant: str | None = None) -> Settings:
    """The demo's settings: development mode (the sandbox gateway, the built-in secret key),
    the site's root opening the wine brand's mall."""
    from tokenmall.config import Settings

    return Settings(
        env="development",
        database_url=url,
        host=host,
        port=port,
        log_level="WARNING",
        home_tenant=home_tenant,
    )


def demo(
    port: Annotated[
        int | None,
        typer.Option(
            help="Port to serve on (default: $TOKENMALL_PORT, else 8000).", min=0, max=65535
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option(help="Address to listen on (default: $TOKENMALL_HOST, else 127.0.0.1)."),
    ] = None,
    database: Annotated[
        str | None,
        typer.Option(help="Database URL (default: demo.db under the user's data directory)."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve after setting up (default: yes).")
    ] = True,
) -> None:
    """Set up the demo mall (the seed's wine brand, with history) and serve it."""
    import uvicorn

    from tokenmall import bootstrap
    from tokenmall.config import Settings, default_demo_url
    from tokenmall.demo import living as demo_service
    from tokenmall.demo import nfg as demo_nfg
    from tokenmall.services.process import freeze_startup_objects
    from tokenmall.web import logs
    from tokenmall.web.app import create_app

    url = database or default_demo_url()
    configured = Settings()
    port = configured.port if port is None else port
    host = configured.host if host is None else host
    shown_host = "127.0.0.1" if host in ("0.0.0.0", "::") else host
    base_url = f"http://{shown_host}:{port}"
    started = time.monotonic()
    db = bootstrap.open_database(url)
    try:
        typer.echo(f"tokenmall demo: database {url}")
        bootstrap.upgrade(db.engine)
        outcome = demo_service.seed(
            db, base_url=base_url, progress=lambda text: typer.echo(f"  {text}…")
        )
        settings = demo_settings(url, host, port, outcome.tenant_id)
        nfg = demo_nfg.seed(
            db,
            bootstrap.log_config(settings.secret_key.get_secret_value(), settings.log_host),
            base_url=base_url,
            progress=lambda text: typer.echo(f"  {text}…"),
        )
        invite = demo_service.invite_link(db, base_url)
    finally:
        db.dispose()
    if outcome.created or outcome.orders_booked:
        typer.echo(
            f"  set up in {time.monotonic() - started:.1f} s: {outcome.orders_booked} orders, "
            f"{len(outcome.days_settled)} days settled"
        )
    else:
        typer.echo("  already set up: nothing added")
    typer.echo("")
    typer.echo(f"Mall (H5):        {base_url}/  (= {base_url}/{outcome.tenant_id}/)")
    typer.echo(f"Admin console:    {base_url}/{outcome.tenant_id}/admin/")
    typer.echo(f"Platform console: {base_url}/-/platform/")
    typer.echo(f"Invite link:      {invite}")
    typer.echo(f"API docs:         {base_url}/docs")
    for certificate in nfg.certificate_urls:
        typer.echo(f"NFG certificate:  {certificate}")
    typer.echo(f"Log checkpoint:   {nfg.checkpoint_url}")
    typer.echo("")
    typer.echo(f"{'who':<18} {'email':<28} password")
    for login in outcome.logins:
        typer.echo(f"{login.role:<18} {login.email:<28} {login.password}")
    if not serve:
        return
    typer.echo("")
    typer.echo(f"Serving at {base_url} (Ctrl+C to stop)")
    application = create_app(settings)
    logs.development_warning()
    freeze_startup_objects()
    uvicorn.run(
        application,
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )


def register(app: typer.Typer) -> None:
    """Add this module's commands to ``app``."""
    app.command("demo")(demo)
