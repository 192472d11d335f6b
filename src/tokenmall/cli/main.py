"""The ``tokenmall`` command."""

from __future__ import annotations

import typer

from tokenmall.cli import (
    audit,
    bench,
    db,
    demo,
    economy,
    errors,
    reconcile,
    report,
    serve,
    settle,
    simulate,
)
from tokenmall.cli import log as log_cli
from tokenmall.cli import market as market_cli

app = typer.Typer(
    help="tokenmall: token-economy e-commerce with exact arithmetic.",
    no_args_is_help=True,
    add_completion=False,
)
app.add_typer(economy.app, name="economy")
app.add_typer(bench.app, name="bench")
app.add_typer(market_cli.app, name="market")  # tokenmall market replay
app.command("audit")(audit.audit)  # tokenmall audit
app.add_typer(db.app, name="db")  # tokenmall db upgrade
app.add_typer(log_cli.app, name="log")  # tokenmall log verify, tokenmall log sign
serve.register(app)  # tokenmall serve, tokenmall operator create
app.command("simulate")(simulate.simulate)  # tokenmall simulate
app.command("report")(report.report_command)  # tokenmall report
settle.register(app)  # tokenmall settle, tokenmall scheduler
app.command("reconcile")(reconcile.reconcile)  # tokenmall reconcile
demo.register(app)  # tokenmall demo
errors.guard(app)  # a database that cannot be used: one line and exit 2 (or 1), no traceback


def main() -> None:
    app()
