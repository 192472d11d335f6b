"""``tokenmall bench economy --json`` and ``bench api --json``: one JSON object of figures
(printed, never asserted on)."""

from __future__ import annotations

import importlib.util
import json
import socket
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tokenmall.adapters.db.store import Store
from tokenmall.bench.api import _listening_socket


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


# ``tokenmall bench api``: at a tiny size, on SQLite and PostgreSQL (the integration tests'
# fresh database per module), through the asyncio load client. Each run is bounded by its
# request count, never by time (the duration is a generous upper bound the run never meets),
# so the output's shape and counts are exact on any machine. Figures are printed, never
# asserted.

# What every scenario reports; the batch scenario adds ``BATCH_KEYS``.
SCENARIO_KEYS = {
    "scenario", "clients", "requests", "ok", "errors", "statuses", "seconds",
    "requests_per_second", "p50_ms", "p99_ms", "http_requests", "connections",
    "connections_per_worker", "client_cpu_ms_per_request", "server_cpu_ms_per_request",
}  # fmt: skip
BATCH_KEYS = {"batch_size", "orders_ok", "order_statuses", "orders_per_second"}


def _integration_fixtures() -> Any:
    path = Path(__file__).parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("tokenmall_bench_cli_fixtures", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


db_url = _integration_fixtures().db_url


def _bench_api(cli: Any, db_url: str, *args: str) -> dict[str, Any]:
    result = cli(
        "bench", "api", "--database", db_url, "--duration", "600", "--clients", "4",
        "--users", "20", "--json", *args,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert len(lines) == 1, result.stdout
    report: dict[str, Any] = json.loads(lines[0])
    print(f"bench api figures (small run, for reading only): {lines[0]}")
    assert set(report) == {
        "database", "workers", "tenant_id", "scenarios", "audit",
        "integration_requests_per_second", "checkout_flows_per_second", "checkout_p99_ms",
        "checkout_share_of_push",
    }  # fmt: skip
    assert report["database"] == ("postgresql" if db_url.startswith("postgresql") else "sqlite")
    assert report["audit"]["clean"], report["audit"]
    assert report["audit"]["findings"] == 0
    for s in report["scenarios"]:
        assert set(s) == SCENARIO_KEYS | (BATCH_KEYS if "batch_size" in s else set())
        assert isinstance(s["seconds"], (int, float))
        assert isinstance(s["client_cpu_ms_per_request"], (int, float))
        assert s["ok"] + s["errors"] == s["requests"]
        assert s["connections"] >= 1
        # Spread over the server's processes before the clock (one process: not asked).
        spread = s["connections_per_worker"]
        even = [-(-s["clients"] // 2), s["clients"] // 2]  # e.g. 3 clients: [2, 1]
        assert spread == (even if report["workers"] == 2 else []), spread
    return report


def test_bench_api_integration_and_checkout(cli: Any, db_url: str) -> None:
    report = _bench_api(cli, db_url, "--requests", "12", "--scenarios", "integration,checkout")
    by_name = {s["scenario"]: s for s in report["scenarios"]}
    assert [s["scenario"] for s in report["scenarios"]] == ["integration_paid", "checkout_and_pay"]
    paid, checkout = by_name["integration_paid"], by_name["checkout_and_pay"]
    for s in (paid, checkout):
        assert s["clients"] == 4
        assert (s["requests"], s["ok"], s["errors"]) == (12, 12, 0), s["statuses"]
    assert paid["statuses"] == {"201": 12}
    assert paid["http_requests"] == 12
    assert checkout["statuses"] == {"200": 12}
    assert checkout["http_requests"] == 24  # check out, then pay
    # The headline: the checkout's rate beside the push rate of the same run.
    assert report["checkout_flows_per_second"] == checkout["requests_per_second"]
    assert report["integration_requests_per_second"] == paid["requests_per_second"]
    assert report["checkout_p99_ms"] == checkout["p99_ms"]
    assert isinstance(report["checkout_share_of_push"], float)
    # The orders' table was analysed before the clock (after the warm-up's orders).
    if db_url.startswith("postgresql"):
        store = Store.open(db_url, migrate_now=False)
        try:
            with store.read() as conn:
                rows = conn.execute(
                    text("SELECT reltuples FROM pg_class WHERE oid = 'mall_orders'::regclass")
                ).scalar_one()
        finally:
            store.dispose()
        assert rows >= 1


def _has_batch_endpoint() -> bool:
    from tokenmall.web.api.integration import router

    return any(getattr(r, "path", "").endswith("/batches/paid") for r in router.routes)


def test_bench_api_batch(cli: Any, db_url: str) -> None:
    if not _has_batch_endpoint():
        pytest.skip("POST …/integration/batches/paid is not served yet")
    report = _bench_api(
        cli, db_url, "--requests", "20", "--batch-size", "7", "--batch-clients", "3",
        "--scenarios", "batch",
    )  # fmt: skip
    (batch,) = report["scenarios"]
    assert batch["scenario"] == "integration_batch"
    assert batch["clients"] == 3  # --batch-clients, not --clients (4)
    assert batch["batch_size"] == 7
    # 20 orders: ceil(20 / 7) = 3 requests of 7 orders each
    assert (batch["requests"], batch["ok"], batch["errors"]) == (3, 3, 0), batch["statuses"]
    assert batch["statuses"] == {"200": 3}
    assert batch["orders_ok"] == 21
    assert batch["order_statuses"] == {"201": 21}
    assert isinstance(batch["orders_per_second"], (int, float))


def test_bench_api_refuses_bad_options(cli: Any) -> None:
    result = cli("bench", "api", "--scenarios", "integration,nope")
    assert result.returncode == 2
    assert "integration, batch, checkout" in result.stderr
    result = cli("bench", "api", "--batch-size", "101")
    assert result.returncode == 2
    assert "--batch-size" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_ledger_json_has_every_path_and_count(cli: Any, db_url: str) -> None:
    """``bench ledger --json``: the issue's object, for both paths at each client count; the
    writer's callers as coroutines (the default) and as threads. Figures are printed only."""
    for callers in ("async", "threads"):
        result = cli(
            "bench", "ledger", "--database", db_url, "--clients", "1,4", "--seconds", "0.3",
            "--holders", "50", "--callers", callers, "--json",
        )  # fmt: skip
        assert result.returncode == 0, result.stderr[-3000:]
        lines = result.stdout.splitlines()
        assert len(lines) == 1, result.stdout
        print(f"bench ledger figures ({callers}, small run, for reading only): {lines[0]}")
        report = json.loads(lines[0])
        assert set(report) == {"results", "dividend_day_seconds"}
        assert [(r["path"], r["clients"]) for r in report["results"]] == [
            ("writer", 1),
            ("writer", 4),
            ("rowlock", 1),
            ("rowlock", 4),
        ]
        for r in report["results"]:
            assert set(r) == {"path", "clients", "purchases_per_second"}
            assert isinstance(r["purchases_per_second"], int)
            assert r["purchases_per_second"] > 0
        assert set(report["dividend_day_seconds"]) == {"50"}


def test_bench_ledger_refuses_unknown_callers(cli: Any) -> None:
    result = cli("bench", "ledger", "--callers", "fibers", "--holders", "")
    assert result.returncode == 2
    assert "--callers must be one of async, threads" in result.stderr
    assert "Traceback" not in result.stderr


def test_bench_api_serves_without_nagles_delay() -> None:
    """The socket ``bench api`` hands uvicorn (``--fd``) sets ``TCP_NODELAY`` and the
    connections it accepts inherit it: uvicorn takes a ``--fd`` socket for a Unix one and sets
    nothing, and a response sent in two writes would wait for the client's delayed ACK."""
    listening = _listening_socket()
    with listening, socket.create_connection(listening.getsockname()):
        accepted, _ = listening.accept()
        with accepted:
            assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) != 0
