"""``tokenmall serve`` (the HTTP service) and ``tokenmall operator create``."""

from __future__ import annotations

from typing import Annotated

import typer

from tokenmall.domain.errors import DomainError

app = typer.Typer(help="Platform operators.", no_args_is_help=True)


def serve(
    host: Annotated[
        str | None, typer.Option(help="Address to listen on (default: settings).")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on (default: settings).")] = None,
) -> None:
    """Run the HTTP API (OpenAPI docs at /docs) with settings from TOKENMALL_* and .env.

    Refuses to start (exit 2) with the default or a short secret key, or with the sandbox
    gateway on, unless TOKENMALL_ENV=development."""
    import uvicorn

    from tokenmall.cli import safety
    from tokenmall.services.process import freeze_startup_objects
    from tokenmall.web import logs
    from tokenmall.web.app import create_app
    from tokenmall.web.routing import build_route_contexts

    settings = safety.checked("serve")
    application = create_app(settings)
    if settings.development:
        logs.development_warning()
    build_route_contexts(application.router)  # at start-up, not in the first requests
    freeze_startup_objects()
    uvicorn.run(
        application,
        host=host or settings.host,
        port=settings.port if port is None else port,
        log_config=None,  # our JSON logging, configured by create_app
        access_log=False,
    )


@app.command("create")
def create_operator(
    email: Annotated[str, typer.Option(help="The operator's email (their login).")],
    password: Annotated[
        str,
        typer.Option(
            prompt=True,
            hide_input=True,
            confirmation_prompt=True,
            envvar="TOKENMALL_OPERATOR_PASSWORD",
            help="Asked for if not given (or TOKENMALL_OPERATOR_PASSWORD).",
        ),
    ],
) -> None:
    """Create a platform operator, who can then create tenants over the API."""
    from tokenmall import bootstrap
    from tokenmall.config import Settings
    from tokenmall.services.mall import operators
    from tokenmall.services.mall.uow import utc_now

    db = bootstrap.open_database(Settings().database_url)
    try:
        bootstrap.upgrade(db.engine)
        with db.unit() as uow:
            operator_id = operators.create(uow, email, password, utc_now())
    except DomainError as exc:
        typer.echo(f"tokenmall: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(f"operator {operator_id} created for {email.strip().lower()}")


def register(root: typer.Typer) -> None:
    """Add ``serve`` and ``operator`` to the ``tokenmall`` command."""
    root.command("serve")(serve)
    root.add_typer(app, name="operator")
