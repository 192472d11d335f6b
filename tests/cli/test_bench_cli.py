"""``tokenmall bench economy --json``: one JSON object of figures (printed, never asserted on)."""

from __future__ import annotations

import json
from typing import Any


def test_bench_economy_json_prints_one_object(cli: Any) -> None:
    result = cli("bench", "economy", "--json", "--purchases", "2000", "--holders", "1000")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert len(lines) == 1
    report = json.loads(lines[0])
    assert isinstance(report, dict)
    assert report["purchases"] == 2000
    assert isinstance(report["purchases_per_second"], int)
    assert set(report["dividend_day_seconds"]) == {"1000"}
    assert isinstance(report["dividend_day_seconds"]["1000"], (int, float))
    print(f"bench figures (small run, for reading only): {lines[0]}")


def test_bench_refuses_bad_holder_counts(cli: Any) -> None:
    result = cli("bench", "economy", "--json", "--purchases", "1000", "--holders", "lots")
    assert result.returncode == 2
    assert "--holders" in result.stderr
    assert "Traceback" not in result.stderr
