"""``bench api`` settles the database (its statistics analysed, as autovacuum keeps a live
database's) after each scenario's warm-up and before its clock starts."""

from __future__ import annotations

from typing import Any

import pytest

from tokenmall.bench import api


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """What ran, in order: each load by its scenario's name, and each settling."""
    done: list[str] = []

    def load(port: int, scenario: Any, *args: Any, **kwargs: Any) -> None:
        done.append(scenario.name)

    monkeypatch.setattr(api, "_load", load)
    monkeypatch.setattr(api, "_shop", lambda *args: ("sku", ["token"]))
    return done


def test_each_scenario_settles_between_its_warm_up_and_its_measured_load(
    steps: list[str],
) -> None:
    def settle() -> None:
        steps.append("settle")

    api.integration_orders(1, "t", "key", 4, 10, 1.0, 5, settle=settle)
    api.integration_batch(1, "t", "key", 2, 10, 1.0, 5, 5, settle=settle)
    api.checkout_and_pay("http://127.0.0.1:1", 1, "t", "admin", 4, 10, 1.0, settle=settle)
    assert steps == [
        "warm-up", "settle", "integration_paid",
        "warm-up", "settle", "integration_batch",
        "warm-up", "settle", "checkout_and_pay",
    ]  # fmt: skip
