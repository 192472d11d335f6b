"""``tokenmall bench market --json``: one JSON object of figures (printed, never asserted
against a time)."""

from __future__ import annotations

import json
from typing import Any

from tokenmall.bench.market import book_ops_per_second, market_actions


def test_bench_market_json_prints_one_object(cli: Any) -> None:
    result = cli("bench", "market", "--json", "--operations", "2000")
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()
    report = json.loads(line)
    assert report["book_operations"] == 2000
    assert report["book_ops_per_second"] > 0
    assert report["market_actions_per_second"] > 0
    assert report["market_trades"] > 0
    print(f"bench figures (small run, for reading only): {line}")


def test_the_workloads_are_deterministic_in_what_they_do() -> None:
    assert market_actions(3000, seed=3)[1:] == market_actions(3000, seed=3)[1:]
    assert book_ops_per_second(1000) > 0
