"""Migration 0030 on both databases: ``mall_withdrawals.merchant_id`` (a store's withdrawal)
appears, nullable, tied to the tenant's merchants and indexed, and goes away on a downgrade to
0029 with the rows kept (a downgrade forgets which rows were a store's: upgraded again, they
read NULL)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.mall import tables as m
from tokenmall.adapters.db.mall.withdrawals import withdrawals
from tokenmall.adapters.db.store import Store

BEFORE = "0029_offer_to_user_index"
REVISION = "0030_merchant_withdrawals"


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def _columns(store: Store) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns("mall_withdrawals")}


def _row(tenant: str, wid: str, user: str, merchant: str | None) -> dict[str, object]:
    return {
        "tenant_id": tenant, "withdrawal_id": wid, "user_id": user, "amount_fen": 500,
        "debt_repaid_fen": 0, "status": "pending", "approvals_required": 1,
        "created_at": datetime.now(UTC), "merchant_id": merchant,
    }  # fmt: skip


def test_0030_follows_0029() -> None:
    found = ScriptDirectory.from_config(migrate.config()).get_revision(REVISION)
    assert found is not None
    assert found.down_revision == BEFORE


def test_0030_adds_the_store_column_and_downgrades_back(store: Store) -> None:
    assert "merchant_id" in _columns(store)
    tenant = f"t{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    with store.transaction() as conn:
        store.create_tenant(conn, tenant)
        conn.execute(insert(m.tenants).values(tenant_id=tenant, name="T", created_at=now))
        conn.execute(insert(m.users).values(
            tenant_id=tenant, user_id="usr_1", email="o@x.test", display_name="O",
            password_hash="x", invite_code="INV1",
            role="merchant", kyc_status="verified", created_at=now,
        ))  # fmt: skip
        conn.execute(insert(m.merchants).values(
            tenant_id=tenant, merchant_id="mch_1", name="S", owner_user_id="usr_1",
            created_at=now,
        ))  # fmt: skip
        conn.execute(insert(withdrawals).values(_row(tenant, "wdr_1", "usr_1", "mch_1")))
        conn.execute(insert(withdrawals).values(_row(tenant, "wdr_2", "usr_1", None)))
    with pytest.raises(IntegrityError), store.transaction() as conn:
        conn.execute(insert(withdrawals).values(_row(tenant, "wdr_3", "usr_1", "mch_none")))
    _migrate(store, "downgrade", BEFORE)
    try:
        assert "merchant_id" not in _columns(store)
        with store.engine.connect() as conn:
            kept = conn.execute(
                text("SELECT withdrawal_id FROM mall_withdrawals WHERE tenant_id = :t"),
                {"t": tenant},
            ).all()
        assert sorted(r[0] for r in kept) == ["wdr_1", "wdr_2"]
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    with store.engine.connect() as conn:
        found = conn.execute(
            text("SELECT withdrawal_id, merchant_id FROM mall_withdrawals WHERE tenant_id = :t"),
            {"t": tenant},
        ).all()
    assert sorted(tuple(r) for r in found) == [("wdr_1", None), ("wdr_2", None)]
