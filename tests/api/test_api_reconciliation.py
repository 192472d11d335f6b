"""The daily reconciliation (对账) on SQLite and PostgreSQL: orders paid on the sandbox's page,
then its record and the shop's books tampered with to make each kind of mismatch;
``tokenmall reconcile`` prints the report and exits 1 (0 when all match, 2 on bad input), the
console's API shows it mismatches first, and the scheduler reconciles the previous day."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from mall_api import Api, TenantFixture, ok
from orders_helpers import paid_order
from sqlalchemy import select, update
from wallet_helpers import store_of

from tokenmall.adapters.db.mall.payments import payments
from tokenmall.adapters.db.mall.payouts import reconciliations, sandbox_transactions
from tokenmall.adapters.db.store import Store
from tokenmall.domain.money import parse_money
from tokenmall.services.mall.settling import BUSINESS_TZ


@pytest.fixture
def store(server: Any) -> Store:
    return store_of(server)


@pytest.fixture
def dev_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """The commands with the served app's settings (development mode, the sandbox on)."""
    monkeypatch.setenv("TOKENMALL_ENV", "development")
    monkeypatch.delenv("TOKENMALL_SECRET_KEY", raising=False)


def paid_payments(store: Store, tenant_id: str) -> list[tuple[str, int]]:
    with store.read() as conn:
        rows = conn.execute(
            select(payments.c.payment_id, payments.c.amount_fen)
            .where(payments.c.tenant_id == tenant_id, payments.c.status == "succeeded")
            .order_by(payments.c.payment_id)
        ).all()
    return [(r[0], int(r[1])) for r in rows]


def move_to(store: Store, tenant_id: str, payment_id: str, when: datetime) -> None:
    """The payment (and the sandbox's record of it) made at ``when``."""
    with store.engine.begin() as conn:
        conn.execute(
            update(payments)
            .where(payments.c.tenant_id == tenant_id, payments.c.payment_id == payment_id)
            .values(succeeded_at=when)
        )
        conn.execute(
            update(sandbox_transactions)
            .where(
                sandbox_transactions.c.tenant_id == tenant_id,
                sandbox_transactions.c.reference == payment_id,
            )
            .values(occurred_at=when)
        )


def stray_at_channel(store: Store, tenant_id: str, when: datetime, fen: int) -> None:
    """A line on the channel's bill the shop never booked."""
    with store.engine.begin() as conn:
        conn.execute(
            sandbox_transactions.insert().values(
                tenant_id=tenant_id,
                txn_id=f"sbx_stray_{fen}",
                kind="payment",
                reference=f"pay_stray_{fen}",
                amount_fen=fen,
                occurred_at=when,
            )
        )


def report_rows(store: Store, tenant_id: str) -> list[tuple[Any, ...]]:
    with store.read() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(reconciliations).where(reconciliations.c.tenant_id == tenant_id)
            )
        ]


@pytest.mark.usefixtures("dev_env")
def test_each_kind_of_mismatch_is_reported_and_the_command_exits_1(
    api: Api, server: Any, tenant: TenantFixture, store: Store, cli: Any
) -> None:
    t = tenant
    url = server.settings.database_url
    for _ in range(3):
        paid_order(api, t)
    (good, _), (changed, changed_fen), (gone, _) = paid_payments(store, t.tenant_id)
    noon = datetime.now(BUSINESS_TZ).replace(hour=12, minute=0, second=0, microsecond=0)
    day = noon.date().isoformat()
    for payment_id in (good, changed, gone):
        move_to(store, t.tenant_id, payment_id, noon.astimezone(UTC))

    clean = cli("reconcile", "--date", day, "--tenant", t.tenant_id, "--database", url)
    assert clean.returncode == 0, (clean.stdout, clean.stderr)
    assert f"tenant {t.tenant_id} {day} sandbox: 3 matched, 0 missing_in_ledger" in clean.stdout

    with store.engine.begin() as conn:  # the shop booked another amount; the channel lost one
        conn.execute(
            update(payments)
            .where(payments.c.tenant_id == t.tenant_id, payments.c.payment_id == changed)
            .values(amount_fen=changed_fen + 1)
        )
        conn.execute(
            sandbox_transactions.delete().where(
                sandbox_transactions.c.tenant_id == t.tenant_id,
                sandbox_transactions.c.reference == gone,
            )
        )
    stray_at_channel(store, t.tenant_id, noon.astimezone(UTC), 4_321)

    ran = cli("reconcile", "--date", day, "--tenant", t.tenant_id, "--database", url)
    assert ran.returncode == 1, (ran.stdout, ran.stderr)
    lines = ran.stdout.splitlines()
    assert lines[0].startswith(
        f"tenant {t.tenant_id} {day} sandbox: 1 matched, 1 missing_in_ledger, "
        "1 missing_at_channel, 1 amount_differs"
    ), lines
    assert lines[1] == "  missing_in_ledger payment pay_stray_4321: bill 43.21, ledger -"
    assert lines[2].startswith(f"  missing_at_channel payment {gone}: bill -, ledger ")
    assert lines[3].startswith(f"  amount_differs payment {changed}: bill ")
    assert len(lines) == 4

    (report,) = ok(api.get(t.path(f"/reconciliations/{day}"), t.admin_token))["items"]
    assert (report["matched"], report["missing_in_ledger"]) == (1, 1)
    assert (report["missing_at_channel"], report["amount_differs"]) == (1, 1)
    outcomes = [line["outcome"] for line in report["lines"]]
    assert outcomes == ["missing_in_ledger", "missing_at_channel", "amount_differs", "matched"]
    differs = report["lines"][2]
    assert differs["reference"] == changed
    assert (differs["bill_amount"], differs["ledger_amount"]) == (
        f"{changed_fen // 100}.{changed_fen % 100:02d}",
        f"{(changed_fen + 1) // 100}.{(changed_fen + 1) % 100:02d}",
    )
    assert api.get(t.path(f"/reconciliations/{day}"), t.consumer_token).status_code == 403
    listed = ok(api.get(t.path("/reconciliations"), t.admin_token))["items"]
    assert [(r["day"], r["channel"]) for r in listed] == [(day, "sandbox")]
    for bad, code in (("2026-02-30", 422), ("12-05-2026", 422), ("2001-01-01", 404)):
        answer = api.get(t.path(f"/reconciliations/{bad}"), t.admin_token)
        assert answer.status_code == code, (bad, answer.text)
        assert answer.json()["error"]["field"] == "day"

    # running it again replaces the day's report with the same one
    again = cli("reconcile", "--date", day, "--tenant", t.tenant_id, "--database", url)
    assert again.returncode == 1
    assert again.stdout == ran.stdout
    assert len(report_rows(store, t.tenant_id)) == 1


@pytest.mark.usefixtures("dev_env")
def test_bad_input_exits_2_with_one_line_and_changes_nothing(
    server: Any, tenant: TenantFixture, store: Store, cli: Any
) -> None:
    url = server.settings.database_url
    future = (datetime.now(BUSINESS_TZ) + timedelta(days=3)).date().isoformat()
    for args, said in (
        (("--date", "2026-13-01"), "not a calendar date"),
        (("--date", "yesterday"), "YYYY-MM-DD"),
        (("--date", future), "has not begun"),
        (("--date", "2026-01-01", "--tenant", "no-such-tenant"), "no tenant"),
    ):
        ran = cli("reconcile", *args, "--database", url)
        assert ran.returncode == 2, (args, ran.stdout, ran.stderr)
        assert len(ran.stderr.strip().splitlines()) == 1, ran.stderr
        assert said in ran.stderr
        assert "Traceback" not in ran.stderr
    assert report_rows(store, tenant.tenant_id) == []


@pytest.mark.usefixtures("dev_env")
def test_the_scheduler_reconciles_the_previous_day(
    api: Api, server: Any, tenant: TenantFixture, store: Store, cli: Any
) -> None:
    t = tenant
    paid_order(api, t)
    ((payment_id, _),) = paid_payments(store, t.tenant_id)
    yesterday_noon = (datetime.now(BUSINESS_TZ) - timedelta(days=1)).replace(
        hour=12, minute=0, second=0, microsecond=0
    )
    move_to(store, t.tenant_id, payment_id, yesterday_noon.astimezone(UTC))
    stray_at_channel(store, t.tenant_id, yesterday_noon.astimezone(UTC), 999)
    url = server.settings.database_url
    ran = cli("scheduler", "--once", "--at", "00:00", "--database", url)
    assert ran.returncode == 0, ran.stderr
    day = yesterday_noon.date().isoformat()
    assert "  missing_in_ledger payment pay_stray_999: bill 9.99, ledger -" in ran.stderr
    (report,) = ok(api.get(t.path(f"/reconciliations/{day}"), t.admin_token))["items"]
    assert (report["matched"], report["missing_in_ledger"]) == (1, 1)
    assert parse_money(report["bill_total"]) == parse_money(report["ledger_total"]) + 999
    assert ok(api.get(t.path("/reconciliations"), t.admin_token))["items"][0]["day"] == day
