"""``tokenmall bench pages --json`` at a tiny size on SQLite and PostgreSQL: one JSON object with
the home and product pages' figures for anonymous and signed-in visitors (never a timing
asserted)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

PAGE_KEYS = {
    f"{page}_{figure}"
    for page in ("home", "product")
    for figure in ("requests_per_second", "p50_ms", "p99_ms", "requests", "errors", "statuses")
}
KEYS = {
    "database", "workers", "clients", "tenant_id", "product_id", "anonymous", "member",
    "home_requests_per_second", "product_requests_per_second",
}  # fmt: skip


def _integration_fixtures() -> Any:
    path = Path(__file__).parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("tokenmall_bench_pages_fixtures", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


db_url = _integration_fixtures().db_url


def test_bench_pages_prints_the_pages_figures(cli: Any, db_url: str) -> None:
    result = cli(
        "bench", "pages", "--database", db_url, "--days", "1", "--duration", "0.5",
        "--requests", "20", "--clients", "2", "--json",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    report = json.loads(lines[0])
    print(f"bench pages figures (small run, for reading only): {lines[0]}")
    assert set(report) == KEYS
    assert report["database"] == ("postgresql" if db_url.startswith("postgresql") else "sqlite")
    assert report["tenant_id"] == "wine"
    for visitor in ("anonymous", "member"):
        figures = report[visitor]
        assert set(figures) == PAGE_KEYS
        for page in ("home", "product"):
            assert figures[f"{page}_errors"] == 0
            assert figures[f"{page}_statuses"] == {"200": figures[f"{page}_requests"]}
            assert isinstance(figures[f"{page}_requests_per_second"], (int, float))
            assert isinstance(figures[f"{page}_p99_ms"], (int, float))
    assert report["home_requests_per_second"] == report["anonymous"]["home_requests_per_second"]
