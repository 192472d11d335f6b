"""``tokenmall settle`` and ``tokenmall scheduler --once`` as a user runs them (a subprocess) on
SQLite and PostgreSQL: a day settled once, a second run changes nothing and says so, the audit
is clean after; bad input exits 2 with a clear message."""

from __future__ import annotations

import importlib.util
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.execute import execute
from tokenmall.services.mall.settling import yesterday
from tokenmall.services.mall.uow import utc_now


def _integration_fixtures() -> Any:
    path = Path(__file__).parents[1] / "integration" / "conftest.py"
    spec = importlib.util.spec_from_file_location("tokenmall_settle_cli_fixtures", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


db_url = _integration_fixtures().db_url


@pytest.fixture(scope="module")
def store(db_url: str) -> Any:
    s = Store.open(db_url)
    yield s
    s.dispose()


@pytest.fixture
def tenant(store: Store) -> str:
    """A ledger tenant with a few purchases, so a day has a dividend to pay."""
    tenant_id = f"t{uuid.uuid4().hex[:12]}"
    with store.transaction() as conn:
        store.create_tenant(conn, tenant_id)
    for n, user in enumerate(("ann", "bob", "cat")):
        execute(
            store,
            c.Purchase(
                tenant_id=tenant_id, idempotency_key=f"p{n}", user=user, amount_fen=10_000 * (n + 1)
            ),
        )
    return tenant_id


def rows(store: Store, tenant_id: str) -> list[Any]:
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                text(
                    "SELECT journal_id, code, result FROM journals WHERE tenant_id = :t "
                    "ORDER BY journal_id"
                ),
                {"t": tenant_id},
            )
        ]


def test_settle_twice_changes_nothing_the_second_time(
    cli: Any, db_url: str, store: Store, tenant: str
) -> None:
    day = (datetime.now(UTC).date() - timedelta(days=5)).isoformat()
    first = cli("settle", "--date", day, "--tenant", tenant, "--database", db_url)
    assert first.returncode == 0, first.stderr
    assert f"tenant {tenant} {day}: settled:" in first.stdout
    after_first = rows(store, tenant)
    assert [r[1] for r in after_first][-2:] == ["dividend", "forced_exit"]
    second = cli("settle", "--date", day, "--tenant", tenant, "--database", db_url, "--json")
    assert second.returncode == 0, second.stderr
    answer = json.loads(second.stdout.strip())
    assert answer["settled_now"] is False
    assert answer["result"]["business_date"] == day
    assert rows(store, tenant) == after_first
    text_run = cli("settle", "--date", day, "--tenant", tenant, "--database", db_url)
    assert "already settled, nothing changed" in text_run.stdout
    # a day before the last settled one: the ledger refuses it (exit 1), nothing changes
    older = (datetime.now(UTC).date() - timedelta(days=6)).isoformat()
    refused = cli("settle", "--date", older, "--tenant", tenant, "--database", db_url)
    assert refused.returncode == 1
    assert "refused" in refused.stderr
    assert rows(store, tenant) == after_first
    audited = cli("audit", "--tenant", tenant, "--database", db_url)
    assert audited.returncode == 0
    assert "audit clean" in audited.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--date", "2026-02-30"], "not a calendar date"),
        (["--date", "tomorrow"], "YYYY-MM-DD"),
        (["--date", "2999-01-01"], "has not ended"),
        (["--tenant", "no-such-tenant"], "no tenant"),
        (["--timezone", "Mars/Olympus"], "unknown time zone"),
    ],
)
def test_bad_input_exits_2(cli: Any, db_url: str, args: list[str], message: str) -> None:
    result = cli("settle", *args, "--database", db_url)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture
def safe_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Settings the scheduler starts with outside development mode (the subprocess inherits)."""
    monkeypatch.setenv("TOKENMALL_ENV", "production")
    monkeypatch.setenv("TOKENMALL_SECRET_KEY", "scheduler-test-secret-" + "s" * 26)
    monkeypatch.setenv("TOKENMALL_SANDBOX_GATEWAY", "false")


@pytest.mark.usefixtures("safe_settings")
def test_scheduler_once_settles_yesterday(cli: Any, db_url: str, store: Store, tenant: str) -> None:
    result = cli("scheduler", "--once", "--at", "00:00", "--database", db_url)
    assert result.returncode == 0, result.stderr
    day = yesterday(utc_now()).isoformat()
    assert f"tenant {tenant} {day}: settled:" in result.stdout
    again = cli("scheduler", "--once", "--at", "00:00", "--database", db_url)
    assert again.returncode == 0
    assert f"tenant {tenant}" not in again.stdout
    with store.read() as conn:
        settled = conn.execute(
            text("SELECT business_date FROM settled_days WHERE tenant_id = :t"), {"t": tenant}
        ).all()
    assert [str(r[0])[:10] for r in settled] == [day]
    bad = cli("scheduler", "--once", "--at", "25:00", "--database", db_url)
    assert bad.returncode == 2
    assert "--at must be HH:MM" in bad.stderr


def test_bench_api_runs_at_a_tiny_size_and_prints_its_json(cli: Any, db_url: str) -> None:
    result = cli(
        "bench",
        "api",
        "--database",
        db_url,
        "--requests",
        "20",
        "--clients",
        "2",
        "--duration",
        "600",  # bounded by the count; time only stops a run that hangs
        "--scenarios",
        "integration,checkout",  # the batch scenario: tests/cli/test_bench_cli.py
        "--json",
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["database"] in ("sqlite", "postgresql")
    assert report["audit"]["clean"] is True
    names = [s["scenario"] for s in report["scenarios"]]
    assert names == ["integration_paid", "checkout_and_pay"]
    for scenario in report["scenarios"]:
        assert scenario["requests"] == 20
        assert scenario["ok"] == 20
        assert scenario["errors"] == 0
        for name in ("requests_per_second", "p50_ms", "p99_ms", "seconds"):
            assert isinstance(scenario[name], (int, float))
        print(f"bench api figures (tiny run, for reading only): {scenario}")
