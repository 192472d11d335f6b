"""``tokenmall simulate``: run a scenario (or a parameter sweep) and write data, plots, report."""

from __future__ import annotations

import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from tokenmall.cli.economy import fail
from tokenmall.domain.errors import DomainError
from tokenmall.sim.scenario import BUILTIN, builtin, load_file, with_options
from tokenmall.sim.sweep import parse_axis, sweep

LIST_PARAMS = ("referral_rates", "commission_rates")


def parse_param(text: str) -> tuple[str, Any]:
    """``KEY=VALUE``; list parameters take comma-separated values (empty for none)."""
    key, sep, value = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise DomainError(f'--param must be KEY=VALUE such as "pool_rate=0.25", got {text!r}')
    if key in LIST_PARAMS:
        return key, [v.strip() for v in value.split(",") if v.strip()]
    return key, value.strip()


@contextmanager
def progress_bar(total: int, label: str, show: bool) -> Iterator[Callable[[int], None]]:
    """A rich progress bar on standard error; ``advance(n)`` marks step ``n`` done."""
    if not show:
        yield lambda _n: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

    columns = (
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.update(task, completed=n)


def simulate(
    out: Annotated[Path, typer.Option("--out", help="Directory for the outputs (created).")],
    scenario: Annotated[
        str, typer.Option(help=f"Built-in scenario: {', '.join(BUILTIN)}.")
    ] = "seed",
    scenario_file: Annotated[
        Path | None,
        typer.Option("--scenario-file", help="JSON scenario (fields over its 'base')."),
    ] = None,
    days: Annotated[int | None, typer.Option(help="Days to simulate.")] = None,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed, the same run.")] = 1,
    param: Annotated[
        list[str] | None, typer.Option("--param", help="Economy parameter KEY=VALUE (repeat).")
    ] = None,
    new_buyers: Annotated[
        str | None, typer.Option(help='New buyers a day in every phase: "N" or "START:END".')
    ] = None,
    repeat_rate: Annotated[
        float | None, typer.Option(help="Chance a day that a known buyer buys again.")
    ] = None,
    referral_probability: Annotated[
        float | None, typer.Option(help="Chance that a new buyer was referred.")
    ] = None,
    sell_rate: Annotated[
        float | None, typer.Option(help="Chance a day that a buyer sells.")
    ] = None,
    convert_rate: Annotated[
        float | None, typer.Option(help="Chance a day that a buyer converts to stable points.")
    ] = None,
    basket: Annotated[
        str | None, typer.Option(help='Basket sizes with weights: "99.00*5,199.00*3".')
    ] = None,
    arrival: Annotated[str | None, typer.Option(help="poisson or fixed.")] = None,
    sweep_axes: Annotated[
        list[str] | None,
        typer.Option("--sweep", help='Sweep a parameter: "pool_rate=0.2,0.3,0.4" (repeat).'),
    ] = None,
    plots: Annotated[bool, typer.Option(help="Draw the PNGs and the HTML report.")] = True,
    progress: Annotated[
        bool | None, typer.Option(help="Show a progress bar (default: on a terminal).")
    ] = None,
) -> None:
    """Simulate one tenant's economy over days: series.csv/json, cohorts.csv, PNGs, report.html."""
    try:
        base = load_file(scenario_file) if scenario_file is not None else builtin(scenario)
        params = dict(parse_param(p) for p in param or [])
        chosen = with_options(
            base,
            days=days,
            params=params,
            new_buyers=new_buyers,
            repeat_rate=repeat_rate,
            referral_probability=referral_probability,
            sell_rate=sell_rate,
            convert_rate=convert_rate,
            basket=basket,
            arrival=arrival,
        )
        axes = [parse_axis(axis) for axis in sweep_axes or []]
    except DomainError as exc:
        raise fail(str(exc)) from None
    show = sys.stderr.isatty() if progress is None else progress

    if axes:
        from tokenmall.sim.sweep import grid

        try:
            runs = len(grid(chosen, axes))
        except DomainError as exc:
            raise fail(str(exc)) from None
        _check_writable(out)
        with progress_bar(runs, f"sweep {chosen.name}", show) as advance:
            rows = sweep(chosen, axes, seed, out, on_run=advance)
        typer.echo(f"{len(rows)} runs of {chosen.name} ({chosen.days} days, seed {seed})")
        for name in ("sweep.csv", "sweep.json", "sweep.png"):
            if (out / name).exists():
                typer.echo(f"wrote {out / name}")
        return

    from tokenmall.sim.simulate import simulate as run_simulation

    _check_writable(out)
    with progress_bar(chosen.days, f"simulate {chosen.name}", show) as advance:
        outputs = run_simulation(chosen, seed, out, on_day=advance, plots=plots)
    result = outputs.result
    typer.echo(
        f"{chosen.name}: {chosen.days} days, seed {seed}, {len(result.buyers)} buyers, "
        f"{result.purchases} purchases"
    )
    for name in sorted(outputs.files):
        typer.echo(f"wrote {outputs.files[name]}")
    if plots and outputs.font is None:
        typer.echo(
            "warning: no CJK font found (apt-get install fonts-noto-cjk); "
            "Chinese labels may show as boxes",
            err=True,
        )
    if result.rows:
        from tokenmall.domain.economy.health import statement

        for line in statement(result.rows[-1].health):
            typer.echo(line)
    violations = result.economy.violations()
    if violations:
        typer.echo("invariants violated: " + "; ".join(violations), err=True)
        raise typer.Exit(1)


def _check_writable(out: Path) -> None:
    """Before a long run: a directory that cannot be written is the user's to fix."""
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise fail(f"--out: cannot write to {str(out)!r}: {exc.strerror or exc}") from None
