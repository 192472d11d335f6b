"""``tokenmall economy replay`` and ``tokenmall economy table``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer

from tokenmall.domain.economy import PRESETS, Params
from tokenmall.domain.errors import DomainError
from tokenmall.domain.money import format_points, format_price, parse_money
from tokenmall.services.ledger.replay import Replay, ReplayError

app = typer.Typer(
    help="Run the economy engine with no server and no database.", no_args_is_help=True
)


def fail(message: str) -> typer.Exit:
    typer.echo(f"tokenmall: {message}", err=True)
    return typer.Exit(2)


def load_params(preset: str, params_file: Path | None) -> Params:
    if preset not in PRESETS:
        raise fail(f"unknown preset {preset!r} (known: {', '.join(PRESETS)})")
    params = PRESETS[preset]
    if params_file is None:
        return params
    try:
        overrides: Any = json.loads(params_file.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"cannot read {params_file}: {exc.strerror}") from None
    except ValueError as exc:
        raise fail(f"{params_file}: not valid JSON: {exc}") from None
    if not isinstance(overrides, dict):
        raise fail(f"{params_file}: must be a JSON object of parameter names and values")
    try:
        return params.updated(overrides)
    except DomainError as exc:
        raise fail(f"{params_file}: {exc}") from None


@app.command()
def replay(
    events: Annotated[str, typer.Argument(help="JSON-lines file of events, or - for stdin.")],
    preset: Annotated[str, typer.Option(help="Starting parameters: default or seed.")] = "default",
    params: Annotated[
        Path | None, typer.Option("--params", help="JSON object overriding parameters.")
    ] = None,
    final: Annotated[bool, typer.Option("--final", help="End with every user's balances.")] = False,
) -> None:
    """Replay a history of events and print the economy's state after each line."""
    run = Replay(load_params(preset, params))
    if events == "-":
        _replay_stream(run, sys.stdin, final)
        return
    try:
        stream = open(events, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        raise fail(f"cannot read {events}: {exc.strerror}") from None
    with stream:
        _replay_stream(run, stream, final)


def _replay_stream(run: Replay, stream: TextIO, final: bool) -> None:
    out = sys.stdout
    n = 0
    try:
        for n, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            out.write(json.dumps(run.apply_line(n, text).to_json(), ensure_ascii=False) + "\n")
    except ReplayError as exc:
        out.flush()
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except UnicodeDecodeError:
        out.flush()
        typer.echo(f"line {n + 1}: not valid UTF-8 text", err=True)
        raise typer.Exit(2) from None
    if final:
        out.write(json.dumps(run.final_line().to_json(), ensure_ascii=False) + "\n")
    out.flush()


@app.command()
def table(
    orders: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many orders.")] = 100,
    amount: Annotated[str, typer.Option(help="Each order's amount.")] = "100.00",
    contribution: Annotated[str, typer.Option(help="Each order's pool contribution.")] = "30.00",
    preset: Annotated[str, typer.Option(help="Starting parameters.")] = "seed",
    every: Annotated[
        int,
        typer.Option(
            min=0,
            help="Print orders 1-4, every Kth order and the last (default 1: every order; "
            "0: the seed's rows only).",
        ),
    ] = 1,
) -> None:
    """The seed's worked example: points granted, circulating and price after each order."""
    from tokenmall.domain.economy import Economy

    try:
        amount_fen = parse_money(amount, "amount")
        contribution_fen = parse_money(contribution, "contribution", allow_zero=True)
    except DomainError as exc:
        raise fail(str(exc)) from None
    params = load_params(preset, None).updated({"referral_rates": []})
    economy = Economy(params)
    typer.echo(f"{'order':>8}  {'points granted':>16}  {'circulating':>18}  {'price after':>11}")
    for i in range(1, orders + 1):
        try:
            result = economy.purchase(f"buyer{i}", amount_fen, contribution_fen)
        except DomainError as exc:
            raise fail(str(exc)) from None
        if i <= 4 or i == orders or (every and i % every == 0):
            label = f"{chr(64 + i)} ({i})" if i <= 26 else str(i)
            typer.echo(
                f"{label:>8}  {format_points(result.minted):>16}  "
                f"{format_points(economy.state.circulating):>18}  "
                f"{format_price(*economy.price(), 4):>11}"
            )
    typer.echo(
        "Price = backing pool / circulating points. It cannot fall under these rules because "
        "every grant is worth at most the money it adds; it rises only while new sales come in."
    )
