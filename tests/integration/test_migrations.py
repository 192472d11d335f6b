"""The Alembic migrations create exactly the tables of ``adapters/db/tables.py``."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import insert, inspect, text
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.schema_all import metadata  # the ledger's and every mall table
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.storefront.tables import OPTIONAL_INDEXES
from tokenmall.cli.main import app


def test_migrated_schema_matches_the_tables(store: Store) -> None:
    with store.engine.connect() as conn:
        context = MigrationContext.configure(
            conn,
            opts={
                "include_name": lambda name, type_, parent: (
                    (type_ != "table" or name in metadata.tables)
                    and (type_ != "index" or name not in OPTIONAL_INDEXES)
                ),
                "compare_server_default": False,
            },
        )
        assert compare_metadata(context, metadata) == []
    assert migrate.current(store.engine) == migrate.heads()


def test_db_upgrade_command_is_idempotent(db_url: str, store: Store) -> None:
    result = CliRunner().invoke(app, ["db", "upgrade", "--database", db_url])
    assert result.exit_code == 0, result.output
    assert "already current" in result.output


def test_a_journal_is_reversed_at_most_once_and_only_reversals_are_indexed(
    store: Store,
) -> None:
    """0014: the reversal rule is a partial unique index (reversals only), on both backends."""
    tenant = f"t{uuid.uuid4().hex[:12]}"
    journal = (
        "INSERT INTO journals (tenant_id, journal_id, code, idempotency_key, fingerprint, "
        "result, reverses) VALUES (:t, :j, 'reversal', :k, 'f', '{}', :r)"
    )
    with store.transaction() as conn:
        store.create_tenant(conn, tenant)
        for n in (1, 2, 3):  # journals that reverse nothing are not limited
            conn.execute(text(journal), {"t": tenant, "j": n, "k": f"k{n}", "r": None})
        conn.execute(text(journal), {"t": tenant, "j": 4, "k": "k4", "r": 1})
    with (
        pytest.raises(IntegrityError, match=r"uq_journals_tenant_reverses|UNIQUE"),
        store.transaction() as conn,
    ):
        conn.execute(text(journal), {"t": tenant, "j": 5, "k": "k5", "r": 1})
    with store.engine.connect() as conn:
        if store.postgres:
            definition = conn.execute(
                text(
                    "SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema() "
                    "AND indexname = 'uq_journals_tenant_reverses'"
                )
            ).scalar_one()
        else:
            definition = conn.execute(
                text("SELECT sql FROM sqlite_master WHERE name = 'uq_journals_tenant_reverses'")
            ).scalar_one()
        count = conn.execute(
            text("SELECT count(*) FROM journals WHERE tenant_id = :t"), {"t": tenant}
        ).scalar_one()
    assert "WHERE" in definition
    assert "reverses IS NOT NULL" in definition
    assert count == 4


def test_the_statement_trigger_plans_its_lookup_as_index_probes(store: Store) -> None:
    """0014: ``ledger_note_journals`` runs with the planner settings that leave only primary
    key probes for its journal look-up (PostgreSQL; SQLite has no triggers)."""
    if not store.postgres:
        return
    with store.engine.connect() as conn:
        settings = conn.execute(
            text(
                "SELECT proconfig FROM pg_proc WHERE proname = 'ledger_note_journals' "
                "AND pronamespace = current_schema()::regnamespace"
            )
        ).scalar_one()
    assert set(settings) == {
        "enable_seqscan=off",
        "enable_hashjoin=off",
        "enable_mergejoin=off",
        "enable_material=off",
        "plan_cache_mode=force_custom_plan",
    }


def _an_order_with_children(store: Store) -> str:
    """A tenant, a buyer, a merchant, an SKU and an order with a line and an event (children
    that refer to mall_orders, which a downgrade on SQLite rebuilds); the order's id."""
    from tokenmall.adapters.db.mall import orders as o
    from tokenmall.adapters.db.mall import tables as m

    tenant = f"t{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    with store.transaction() as conn:
        store.create_tenant(conn, tenant)
        conn.execute(insert(m.tenants).values(tenant_id=tenant, name="T", created_at=now))
        for user_id, role in (("usr_buyer", "consumer"), ("usr_seller", "merchant")):
            conn.execute(
                insert(m.users).values(
                    tenant_id=tenant,
                    user_id=user_id,
                    email=f"{user_id}@x.test",
                    display_name=user_id,
                    password_hash="x",
                    role=role,
                    kyc_status="none",
                    invite_code=user_id[-6:],
                    created_at=now,
                )
            )
        conn.execute(
            insert(m.merchants).values(
                tenant_id=tenant,
                merchant_id="mch_1",
                name="M",
                owner_user_id="usr_seller",
                created_at=now,
            )
        )
        conn.execute(
            insert(m.products).values(
                tenant_id=tenant,
                product_id="prd_1",
                merchant_id="mch_1",
                title="P",
                description="",
                status="active",
                created_at=now,
            )
        )
        conn.execute(
            insert(m.skus).values(
                tenant_id=tenant,
                sku_id="sku_1",
                product_id="prd_1",
                name="S",
                price_fen=100,
                stock=1,
                created_at=now,
            )
        )
        conn.execute(
            insert(o.orders).values(
                tenant_id=tenant,
                order_id="ord_1",
                checkout_id="chk_1",
                user_id="usr_buyer",
                merchant_id="mch_1",
                status="created",
                total_fen=100,
                money_fen=100,
                stable_fen=0,
                created_at=now,
                pay_by=now,
                shipping_recipient="张三",
                shipping_phone="13800138000",
                shipping_address="浙江省 杭州市 西湖区 文三路 1 号",
            )
        )
        conn.execute(
            insert(o.order_lines).values(
                tenant_id=tenant,
                order_id="ord_1",
                line_no=1,
                sku_id="sku_1",
                product_id="prd_1",
                title="P",
                sku_name="S",
                unit_price_fen=100,
                quantity=1,
                line_total_fen=100,
            )
        )
        conn.execute(
            insert(o.order_events).values(
                tenant_id=tenant,
                event_id="oev_1",
                order_id="ord_1",
                to_status="created",
                actor="usr_buyer",
                created_at=now,
            )
        )
    return tenant


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def _columns(store: Store, table: str) -> set[str]:
    return {c["name"] for c in inspect(store.engine).get_columns(table)}


def test_0012_downgrades_and_upgrades_again_keeping_orders(store: Store) -> None:
    """Runs last in this module: it leaves the schema at the head again."""
    tenant = _an_order_with_children(store)
    assert "mall_addresses" in inspect(store.engine).get_table_names()
    _migrate(store, "downgrade", "0011_transaction_balance_check")
    try:
        assert "mall_addresses" not in inspect(store.engine).get_table_names()
        assert not {c for c in _columns(store, "mall_orders") if c.startswith("shipping_")}
        with store.engine.connect() as conn:
            kept = conn.execute(
                text("SELECT count(*) FROM mall_order_lines WHERE tenant_id = :t"), {"t": tenant}
            ).scalar_one()
            orders_kept = conn.execute(
                text("SELECT order_id FROM mall_orders WHERE tenant_id = :t"), {"t": tenant}
            ).all()
        assert kept == 1
        assert [r[0] for r in orders_kept] == ["ord_1"]
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    test_migrated_schema_matches_the_tables(store)
    with store.engine.connect() as conn:
        row = conn.execute(
            text("SELECT shipping_address FROM mall_orders WHERE tenant_id = :t"), {"t": tenant}
        ).one()
    assert row[0] is None  # the snapshot went with the downgrade; the order stayed
