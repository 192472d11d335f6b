"""Shared fixtures: a snapshot of an economy, so negative tests can show nothing changed."""

from __future__ import annotations

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
