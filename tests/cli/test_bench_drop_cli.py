"""``tokenmall bench drop --json`` at a tiny size on SQLite and PostgreSQL: one JSON object of
figures whose counters of harm are zero (never a timing asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import pytest

KEYS = {
    "database", "tenant_id", "editions", "buyers", "limit", "presses", "sold", "oversold",
    "over_limit", "paid_without_token", "refunded", "expired", "paid_late", "p50_ms", "p99_ms",
    "seconds_to_sold_out", "audit_clean", "audit_findings", "errors", "error_kinds", "on_page",
    "p99_ms_reserved", "p99_ms_refused", "p99_ms_first_wave", "max_ms",
}  # fmt: skip


def _integration_fixtures() -> Any:
    path = Path(__file__).parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("tokenmall_bench_drop_fixtures", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


db_url = _integration_fixtures().db_url


@pytest.mark.parametrize("cold", [False, True], ids=["on-page", "cold"])
def test_bench_drop_sells_exactly_the_edition_and_harms_no_one(
    cli: Any, db_url: str, cold: bool
) -> None:
    result = cli(
        "bench", "drop", "--database", db_url, "--editions", "12", "--buyers", "30",
        "--limit", "2", "--clients", "8", "--hold", "5", "--json", *(["--cold"] if cold else []),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    report = json.loads(lines[0])
    print(f"bench drop figures (small run, for reading only): {lines[0]}")
    assert set(report) == KEYS
    assert report["on_page"] is not cold  # buyers wait on the drop's page, unless --cold
    assert report["database"] == ("postgresql" if db_url.startswith("postgresql") else "sqlite")
    assert (report["editions"], report["buyers"], report["limit"]) == (12, 30, 2)
    assert report["sold"] == 12
    assert report["oversold"] == 0
    assert report["over_limit"] == 0
    assert report["paid_without_token"] == 0
    assert report["paid_late"] >= 1
    assert report["refunded"] == report["paid_late"]
    assert report["audit_clean"] is True
    assert report["audit_findings"] == []
    assert isinstance(report["errors"], int)
    assert sum(report["error_kinds"].values()) == report["errors"]  # each error named
    for name in ("p50_ms", "p99_ms", "p99_ms_first_wave", "max_ms", "seconds_to_sold_out"):
        assert isinstance(report[name], (int, float))
    assert report["p99_ms_reserved"] is not None  # 201s were answered, 409s too (30 buyers)
    assert report["p99_ms_refused"] is not None
    assert report["p50_ms"] <= report["p99_ms"] <= report["max_ms"]
