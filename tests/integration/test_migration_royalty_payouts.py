"""Migration 0028 on both databases: ``market_royalty_payouts`` appears with its keys (one payout
per tenant, issuer and day; a positive amount) and goes away on a downgrade to 0027, leaving
every other table as it was."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.mall import tables as m
from tokenmall.adapters.db.market.tables import market_royalty_payouts
from tokenmall.adapters.db.store import Store

BEFORE = "0027_redemption_orders"
REVISION = "0028_royalty_payouts"


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def _lineage() -> set[str]:
    """Every revision from the head down (0028 is in the history, no longer the head)."""
    scripts = ScriptDirectory.from_config(migrate.config())
    return {r.revision for r in scripts.walk_revisions()}


def _tables(store: Store) -> set[str]:
    return set(inspect(store.engine).get_table_names())


def _payout(tenant: str, payout_id: int, day: date, amount: int = 600) -> dict[str, object]:
    return {
        "tenant_id": tenant, "payout_id": payout_id, "issuer_id": "mch_1", "business_day": day,
        "amount": amount, "journal_id": payout_id, "created_at": datetime.now(UTC),
    }  # fmt: skip


def test_0028_adds_the_payouts_table_with_its_keys_and_downgrades_back(store: Store) -> None:
    assert REVISION in _lineage()
    assert "market_royalty_payouts" in _tables(store)
    _migrate(store, "downgrade", BEFORE)
    try:
        assert "market_royalty_payouts" not in _tables(store)
        assert {"market_trades", "market_settings", "journals"} <= _tables(store)
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    tenant = f"t{uuid.uuid4().hex[:12]}"
    with store.transaction() as conn:
        now = datetime.now(UTC)
        store.create_tenant(conn, tenant)
        conn.execute(insert(m.tenants).values(tenant_id=tenant, name="T", created_at=now))
        conn.execute(insert(market_royalty_payouts).values(_payout(tenant, 7, date(2026, 12, 5))))
    for bad in (_payout(tenant, 8, date(2026, 12, 5)), _payout(tenant, 9, date(2026, 12, 6), 0)):
        with pytest.raises(IntegrityError), store.transaction() as conn:
            conn.execute(insert(market_royalty_payouts).values(bad))
    with store.engine.connect() as conn:
        found = conn.execute(
            text("SELECT payout_id, amount FROM market_royalty_payouts WHERE tenant_id = :t"),
            {"t": tenant},
        ).all()
    assert [tuple(r) for r in found] == [(7, 600)]
