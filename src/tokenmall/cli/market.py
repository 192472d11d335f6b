"""``tokenmall market replay``: the market's rules run over a file of events (market.md)."""

from __future__ import annotations

import json
import sys
from typing import Annotated, TextIO

import typer

from tokenmall.domain.market.profiles import DEFAULT_PROFILE, PROFILES
from tokenmall.domain.market.replay import MarketReplay, ReplayError

app = typer.Typer(
    help="The 文交所 market's rules with no server and no database.", no_args_is_help=True
)


@app.command()
def replay(
    events: Annotated[str, typer.Argument(help="JSON-lines file of events, or - for stdin.")],
    profile: Annotated[
        str, typer.Option(help="Compliance profile: cn-gift-only, cn-licensed or open.")
    ] = DEFAULT_PROFILE,
) -> None:
    """Replay market events: one JSON line out per event, then the final balances and owners.

    A refused event prints ``"ok": false`` with its code and the run goes on; a line that
    cannot be read stops the run with ``line N: …`` and exit status 2.
    """
    if profile not in PROFILES:
        typer.echo(
            f"tokenmall: unknown profile {profile!r} (known: {', '.join(PROFILES)})", err=True
        )
        raise typer.Exit(2)
    run = MarketReplay(profile)
    if events == "-":
        _run(run, sys.stdin)
        return
    try:
        stream = open(events, encoding="utf-8")  # noqa: SIM115 - closed below
    except OSError as exc:
        typer.echo(f"tokenmall: cannot read {events}: {exc.strerror}", err=True)
        raise typer.Exit(2) from None
    with stream:
        _run(run, stream)


def _run(run: MarketReplay, stream: TextIO) -> None:
    out = sys.stdout
    n = 0
    try:
        for n, text in enumerate(stream, start=1):
            if not text.strip():
                continue
            out.write(json.dumps(run.apply_line(n, text), ensure_ascii=False) + "\n")
    except ReplayError as exc:
        out.flush()
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
    except UnicodeDecodeError:
        out.flush()
        typer.echo(f"line {n + 1}: not valid UTF-8 text", err=True)
        raise typer.Exit(2) from None
    out.write(json.dumps(run.final_line(), ensure_ascii=False) + "\n")
    out.flush()
