"""The live solvency report: the ledger's figures equal the engine's health on the same history."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, date, datetime

from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy import DEFAULT, Economy
from tokenmall.domain.economy.health import health
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.execute import execute
from tokenmall.services.ledger.report import solvency

HISTORY = [("A", 100_00), ("B", 250_00), ("A", 80_00), ("C", 1_000_00)]


def _book(store: Store, tenant: str) -> Economy:
    economy = Economy(DEFAULT)
    for i, (user, amount) in enumerate(HISTORY):
        execute(
            store,
            c.Purchase(tenant_id=tenant, idempotency_key=f"buy-{i}", user=user, amount_fen=amount),
        )
        economy.purchase(user, amount)
    execute(
        store,
        c.Convert(tenant_id=tenant, idempotency_key="convert-1", user="C", units=10 * 10**8),
    )
    economy.convert("C", 10 * 10**8)
    execute(store, c.SettleDay(tenant_id=tenant, business_date=date(2026, 11, 1)))
    economy.settle_day(date(2026, 11, 1).toordinal())
    return economy


def test_report_equals_engine_health_on_the_same_history(store: Store, tenant: str) -> None:
    # given the same purchases, conversion and settled day in the ledger and in memory
    economy = _book(store, tenant)
    # when the report is read with a 7-day window that holds every purchase
    with store.read() as conn:
        live = solvency(conn, tenant, datetime.now(UTC), window_days=7)
    # then every figure equals the engine's, with inflow = money received / 7, rounded down
    spent = sum(amount for _, amount in HISTORY)
    expected = health(economy.state, economy.params, spent // 7)
    assert live == expected
    assert live.daily_inflow == spent // 7
    assert live.quota_outstanding > live.dividend_pool  # the promise exceeds its funding
    assert live.stable_outstanding > 0
    assert live.stable_cover is not None


def test_report_counts_no_inflow_outside_the_window(store: Store, tenant: str) -> None:
    _book(store, tenant)
    later = datetime(2100, 1, 1, tzinfo=UTC)
    with store.read() as conn:
        live = solvency(conn, tenant, later, window_days=7)
    assert live.daily_inflow == 0
    assert live.days_to_pay_quota is None  # never, at zero inflow
    assert any("never" in line for line in live.to_public()["statement"])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tokenmall", "report", *args],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def test_report_cli_prints_json_and_refuses_an_unknown_tenant(
    db_url: str, store: Store, tenant: str
) -> None:
    _book(store, tenant)
    done = _cli("--database", db_url, "--tenant", tenant, "--json", "--inflow", "100.00")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["tenant_id"] == tenant
    assert data["daily_inflow"] == "100.00"
    assert data["daily_dividend_inflow"] == "30.00"  # dividend_rate 0.30
    assert "promises no returns" in " ".join(data["statement"])

    missing = _cli("--database", db_url, "--tenant", "no-such-tenant")
    assert missing.returncode == 2
    assert "no tenant" in missing.stderr
    assert "Traceback" not in missing.stderr
