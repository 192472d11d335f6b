"""Migration 0027 on both databases: each redemption made before it gets its mall order (status,
address, carrier and tracking number, times, one line, a history), paid by the token with a
total of 0; a downgrade writes the redemptions' own columns back and deletes those orders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from alembic import command
from sqlalchemy import MetaData, Table, insert, text

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.mall import tables as m
from tokenmall.adapters.db.nfg.redemptions import SqlRedemptions
from tokenmall.adapters.db.store import Store

BEFORE = "0026_storefront"
# status, serial, shipped, carrier
OLD = (
    ("requested", 1, False, None),
    ("shipped", 2, True, "顺丰"),
    ("delivered", 3, True, "顺丰"),
    ("cancelled", 4, False, None),
)


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def _table(store: Store, name: str) -> Table:
    return Table(name, MetaData(), autoload_with=store.engine)


def _old_redemptions(store: Store) -> str:
    """A tenant with a SKU, a collection and four redemptions of the old schema."""
    tenant = f"t{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    collections, redemptions = _table(store, "nfg_collections"), _table(store, "nfg_redemptions")
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
                title="珍藏赤霞珠",
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
                name="750ml",
                price_fen=19900,
                stock=10,
                created_at=now,
            )
        )
        conn.execute(
            insert(collections).values(
                tenant_id=tenant,
                collection_id="col_1",
                name="年份酒",
                description="",
                edition_size=10,
                price=100,
                price_asset="money",
                per_user_limit=5,
                rights="{}",
                linked_sku_id="sku_1",
                allow_list_only=False,
                status="published",
                reserved=0,
                minted=4,
                burned=1,
                created_at=now,
            )
        )
        for status, serial, shipped, carrier in OLD:
            closed = status in ("delivered", "cancelled")
            conn.execute(
                insert(redemptions).values(
                    tenant_id=tenant,
                    redemption_id=f"rdm_0000000000000000000000000{serial}",
                    collection_id="col_1",
                    serial=serial,
                    user_id="usr_buyer",
                    sku_id="sku_1",
                    merchant_id="mch_1",
                    kind="linked",
                    status=status,
                    recipient="张三",
                    phone="13800138000",
                    address="浙江省 杭州市 西湖区 文三路 1 号",
                    carrier=carrier,
                    tracking_number="SF1" if shipped else None,
                    closed_by="usr_seller" if closed else None,
                    created_at=now,
                    shipped_at=now if shipped else None,
                    closed_at=now if closed else None,
                )
            )
    return tenant


def _rows(store: Store, sql: str, tenant: str) -> list[Any]:
    with store.engine.connect() as conn:
        return list(conn.execute(text(sql), {"t": tenant}).all())


def test_0027_gives_each_redemption_its_order_and_downgrades_back(store: Store) -> None:
    _migrate(store, "downgrade", BEFORE)
    try:
        tenant = _old_redemptions(store)
    finally:
        _migrate(store, "upgrade", "heads")
    orders = _rows(
        store,
        "SELECT o.status, o.total_fen, o.money_fen, o.stable_fen, o.redemption_serial, "
        "o.carrier, o.tracking_number, o.shipping_recipient, r.order_id = o.order_id "
        "FROM nfg_redemptions r JOIN mall_orders o "
        "ON o.tenant_id = r.tenant_id AND o.redemption_id = r.redemption_id "
        "WHERE r.tenant_id = :t ORDER BY r.serial",
        tenant,
    )
    assert [tuple(row) for row in orders] == [
        ("paid", 0, 0, 0, 1, None, None, "张三", True),
        ("shipped", 0, 0, 0, 2, "顺丰", "SF1", "张三", True),
        ("completed", 0, 0, 0, 3, "顺丰", "SF1", "张三", True),
        ("cancelled", 0, 0, 0, 4, None, None, "张三", True),
    ]
    lines = _rows(
        store,
        "SELECT sku_id, title, unit_price_fen, quantity FROM mall_order_lines WHERE tenant_id = :t",
        tenant,
    )
    assert {tuple(row) for row in lines} == {("sku_1", "珍藏赤霞珠", 19900, 1)}
    history = _rows(
        store,
        "SELECT e.to_status, e.actor FROM mall_order_events e JOIN mall_orders o "
        "ON o.tenant_id = e.tenant_id AND o.order_id = e.order_id "
        "WHERE e.tenant_id = :t AND o.redemption_serial = 3 ORDER BY e.event_id",
        tenant,
    )
    assert [tuple(row) for row in history] == [
        ("paid", "usr_buyer"),
        ("shipped", "usr_seller"),
        ("received", "usr_seller"),
        ("completed", "system"),
    ]
    # Through the adapter: the redemptions read their status from their orders.
    with store.engine.connect() as conn:
        found = SqlRedemptions(conn).query(tenant)
    assert sorted((r.serial, str(r.status), r.closed_by) for r in found) == [
        (1, "requested", None),
        (2, "shipped", None),
        (3, "delivered", "usr_seller"),
        (4, "cancelled", "usr_seller"),
    ]
    # Down again: the redemptions' own columns are back and their orders gone.
    _migrate(store, "downgrade", BEFORE)
    try:
        back = _rows(
            store,
            "SELECT serial, status, carrier, tracking_number, closed_by FROM nfg_redemptions "
            "WHERE tenant_id = :t ORDER BY serial",
            tenant,
        )
        assert [tuple(row) for row in back] == [
            (1, "requested", None, None, None),
            (2, "shipped", "顺丰", "SF1", None),
            (3, "delivered", "顺丰", "SF1", "usr_seller"),
            (4, "cancelled", None, None, "usr_seller"),
        ]
        left = _rows(store, "SELECT count(*) FROM mall_orders WHERE tenant_id = :t", tenant)
        assert left[0][0] == 0
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    again = _rows(store, "SELECT status FROM mall_orders WHERE tenant_id = :t", tenant)
    assert sorted(row[0] for row in again) == ["cancelled", "completed", "paid", "shipped"]
