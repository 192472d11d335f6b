"""Shared fixtures: a snapshot of an economy (negative tests show nothing changed) and the CLI.

``cli`` runs the real ``tokenmall`` command in a subprocess (``python -m tokenmall``, the same
Typer app as the console script), so exit codes, stdout and stderr are what a user sees.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import astuple, fields
from typing import Any

import pytest

from tokenmall.domain.economy import Economy
from tokenmall.domain.economy.state import EconomyState, Holder

Snapshot = Callable[[Economy], Any]


def take_snapshot(economy: Economy) -> Any:
    """Every aggregate, every holder's every slot, orders, settled days and parameters."""
    state = economy.state
    aggregates = {
        f.name: getattr(state, f.name) for f in fields(EconomyState) if f.name != "holders"
    }
    holders = {
        name: {slot: getattr(holder, slot) for slot in Holder.__slots__}
        for name, holder in state.holders.items()
    }
    orders = {order_id: astuple(order) for order_id, order in economy.orders.items()}
    return (
        aggregates,
        holders,
        orders,
        dict(economy.days),
        economy.params,
        [(seq, dict(changes)) for seq, changes in economy.param_changes],
    )


@pytest.fixture
def snapshot() -> Snapshot:
    return take_snapshot


Cli = Callable[..., "subprocess.CompletedProcess[str]"]


def run_cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmall", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=300,
        check=False,
    )


@pytest.fixture
def cli() -> Cli:
    return run_cli
