"""``tokenmall economy table``: the seed's worked example as a table, exactly."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def rows(stdout: str) -> dict[str, list[str]]:
    """Table rows keyed by their order label ("A (1)" … or "100")."""
    found = {}
    for line in stdout.splitlines()[1:]:
        parts = line.split()
        if len(parts) == 5 and parts[1].startswith("("):
            found[f"{parts[0]} {parts[1]}"] = parts[2:]
        elif len(parts) == 4 and parts[0].isdigit():
            found[parts[0]] = parts[1:]
    return found


def test_table_reproduces_the_seed_exactly(cli: Any) -> None:
    result = cli("economy", "table", "--every", "0")
    assert result.returncode == 0, result.stderr
    header = result.stdout.splitlines()[0].split()
    assert header == ["order", "points", "granted", "circulating", "price", "after"]
    table = rows(result.stdout)
    assert table["A (1)"] == ["21.00000000", "21.00000000", "1.4286"]
    assert table["B (2)"] == ["14.70000000", "35.70000000", "1.6807"]
    assert table["C (3)"] == ["12.49500000", "48.19500000", "1.8674"]
    assert table["D (4)"][2] == "2.0188"
    assert table["100"][2] == "5.1731"
    assert list(table) == ["A (1)", "B (2)", "C (3)", "D (4)", "100"]


def test_table_every_nth_row(cli: Any) -> None:
    result = cli("economy", "table", "--orders", "30", "--every", "10")
    assert result.returncode == 0, result.stderr
    assert list(rows(result.stdout)) == [
        "A (1)",
        "B (2)",
        "C (3)",
        "D (4)",
        "J (10)",
        "T (20)",
        "30",
    ]


def test_table_refuses_a_bad_amount(cli: Any) -> None:
    result = cli("economy", "table", "--amount", "1e5")
    assert result.returncode == 2
    assert "amount" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_table_prints_every_order_by_default(cli: Any) -> None:
    result = cli("economy", "table", "--orders", "30")
    assert result.returncode == 0, result.stderr
    table = rows(result.stdout)
    assert len(table) == 30
    assert list(table)[:4] == ["A (1)", "B (2)", "C (3)", "D (4)"]
    assert list(table)[-1] == "30"
    assert table["A (1)"] == ["21.00000000", "21.00000000", "1.4286"]
    prices = [row[2] for row in table.values()]
    assert prices == sorted(prices, key=Decimal)  # the price never falls
