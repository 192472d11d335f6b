"""One simulation end to end: run the scenario, then write the data, the plots and the report."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tokenmall.sim.output import write_data
from tokenmall.sim.runner import SimResult, run
from tokenmall.sim.scenario import Scenario


@dataclass(frozen=True, slots=True)
class Outputs:
    result: SimResult
    files: dict[str, Path]
    font: str | None


def simulate(
    scenario: Scenario,
    seed: int,
    out: Path,
    on_day: Callable[[int], None] | None = None,
    plots: bool = True,
) -> Outputs:
    """Run ``scenario`` with ``random.Random(seed)`` and write every output into ``out``."""
    result = run(scenario, random.Random(seed), seed, on_day=on_day)
    files = write_data(result, out)
    font = None
    if plots:
        # Imported here so that runs without plots never load matplotlib.
        from tokenmall.sim.plots import draw_all, find_cjk_font
        from tokenmall.sim.report import write_report

        pngs = draw_all(result, out)
        font = find_cjk_font()
        files.update({p.name: p for p in pngs})
        files["report.html"] = write_report(result, pngs, font, out)
    return Outputs(result, files, font)
