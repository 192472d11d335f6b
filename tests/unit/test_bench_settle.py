"""``bench api`` settles the database (its statistics analysed, as autovacuum keeps a live
database's) after each scenario's warm-up and before its clock starts."""

from __future__ import annotations

from typing import Any

import pytest

from tokenmall.bench import api


@pytest.fixture
def sizes() -> list[tuple[str, int, int]]:
    """Each load as it ran: its scenario's name, its clients and the requests it was given."""
    return []


@pytest.fixture
def steps(monkeypatch: pytest.MonkeyPatch, sizes: list[tuple[str, int, int]]) -> list[str]:
    """What ran, in order: each load by its scenario's name, and each settling."""
    done: list[str] = []

    def load(port: int, scenario: Any, requests: int, *args: Any, **kwargs: Any) -> None:
        done.append(scenario.name)
        sizes.append((scenario.name, scenario.clients, requests))

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


def test_each_warm_up_grows_the_tables_from_every_client_before_the_analyse(
    steps: list[str], sizes: list[tuple[str, int, int]]
) -> None:
    """The statistics analysed before the clock describe a mall with some history: up to
    ``WARM_UP`` orders made first, from the scenario's own clients, never more than asked."""
    api.integration_orders(1, "t", "key", 16, 20_000, 1.0, 5)
    api.integration_batch(1, "t", "key", 2, 20_000, 1.0, 5, 50)
    api.checkout_and_pay("http://127.0.0.1:1", 1, "t", "admin", 16, 20_000, 1.0)
    api.checkout_and_pay("http://127.0.0.1:1", 1, "t", "admin", 4, 12, 1.0)
    assert api.WARM_UP == 500
    assert sizes == [
        ("warm-up", 16, 500), ("integration_paid", 16, 20_000),
        ("warm-up", 2, 10), ("integration_batch", 2, 400),
        ("warm-up", 16, 500), ("checkout_and_pay", 16, 20_000),
        ("warm-up", 4, 12), ("checkout_and_pay", 4, 12),
    ]  # fmt: skip
