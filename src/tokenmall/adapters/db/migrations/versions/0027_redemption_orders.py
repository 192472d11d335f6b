"""NFG redemptions become mall orders: mall_orders.redemption_*, nfg_redemptions.order_id

Revision ID: 0027_redemption_orders
Revises: 0026_storefront
Create Date: 2026-12-05

A redemption (提货) is now a mall order of the SKU, paid by the token: ``mall_orders`` gains
three nullable columns naming the redemption and its token, and its ``total_positive`` check
becomes "positive, or exactly 0 for a redemption's order" (no money, no points). Each existing
redemption gets its order (its status, the address, carrier and tracking number, times, one
line of the SKU at its list price, a history), and ``nfg_redemptions`` keeps only the link: its
shipping and status columns are dropped (the order holds them) and ``order_id`` is added.

SQLite cannot alter a CHECK constraint, and rebuilding ``mall_orders`` breaks the foreign keys
of its lines, events, payments and refunds inside the migration's transaction (0012 explains);
the constraint is relaxed with SQLite's documented ``writable_schema`` procedure for changing a
CHECK constraint that no stored row violates (the table's text in ``sqlite_schema`` rewritten,
the schema version bumped). PostgreSQL drops and re-adds it.

Downgrade writes the redemptions' shipping columns back from their orders, deletes those
orders, restores the check and drops the columns.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0027_redemption_orders"
down_revision = "0026_storefront"
branch_labels = None
depends_on = None

CHECK = "ck_mall_orders_total_positive"
OLD_CHECK = "total_fen > 0"
NEW_CHECK = (
    "(redemption_id IS NULL AND total_fen > 0) OR (redemption_id IS NOT NULL AND total_fen = 0)"
)
ORDER_COLUMNS = (
    ("redemption_id", sa.String(length=40)),
    ("redemption_collection_id", sa.String(length=40)),
    ("redemption_serial", sa.BigInteger()),
)
SHIPPING = (
    ("status", sa.String(length=16)),
    ("recipient", sa.String(length=50)),
    ("phone", sa.String(length=20)),
    ("address", sa.String(length=400)),
    ("carrier", sa.String(length=100)),
    ("tracking_number", sa.String(length=100)),
    ("closed_by", sa.String(length=40)),
    ("shipped_at", sa.DateTime(timezone=True)),
    ("closed_at", sa.DateTime(timezone=True)),
)
NOT_NULL = ("status", "recipient", "phone", "address")
STATUS_CHECK = "status IN ('requested', 'shipped', 'delivered', 'cancelled')"
# the redemption's status -> its order's
ORDER_STATUS = {
    "requested": "paid",
    "shipped": "shipped",
    "delivered": "completed",
    "cancelled": "cancelled",
}
BACK = {"paid": "requested", "shipped": "shipped", "received": "delivered"}


def _set_check(table: str, name: str, old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f(name), table, type_="check")
        op.create_check_constraint(op.f(name), table, new)
        return
    found = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    pattern = re.compile(rf"CONSTRAINT {name} CHECK \({re.escape(old)}\)")
    assert len(pattern.findall(found)) == 1, f"{table}: check {name} not as expected"
    text = pattern.sub(lambda _: f"CONSTRAINT {name} CHECK ({new})", found)
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (text, table)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def _status_check() -> str:
    """The name the status check of nfg_redemptions has (the naming convention doubled the
    prefix 0020 gave it), passed on as final (``op.f``)."""
    for found in sa.inspect(op.get_bind()).get_check_constraints("nfg_redemptions"):
        if "status" in str(found.get("sqltext", "")) and found.get("name"):
            return str(found["name"])
    raise AssertionError("nfg_redemptions has no status check")


def _tables() -> dict[str, sa.Table]:
    meta = sa.MetaData()
    names = (
        "mall_orders",
        "mall_order_lines",
        "mall_order_events",
        "mall_skus",
        "mall_products",
        "nfg_redemptions",
    )
    return {name: sa.Table(name, meta, autoload_with=op.get_bind()) for name in names}


def _events(r: Any, order_id: str, status: str) -> list[dict[str, Any]]:
    suffix = r.redemption_id.split("_", 1)[-1]
    steps: list[tuple[str | None, str, str, Any]] = [(None, "paid", r.user_id, r.created_at)]
    if r.shipped_at is not None:
        steps.append(("paid", "shipped", r.closed_by or "system", r.shipped_at))
    if status == "completed":
        last = steps[-1][1]
        steps.append((last, "received", r.closed_by or "system", r.closed_at))
        steps.append(("received", "completed", "system", r.closed_at))
    elif status == "cancelled":
        steps.append((steps[-1][1], "cancelled", r.closed_by or "system", r.closed_at))
    return [
        {
            "tenant_id": r.tenant_id,
            "event_id": f"oev_{suffix}_{n}",
            "order_id": order_id,
            "from_status": source,
            "to_status": target,
            "actor": actor,
            "note": f"redemption {r.redemption_id} (migrated)" if n == 0 else None,
            "created_at": at,
        }
        for n, (source, target, actor, at) in enumerate(steps)
    ]


def _orders_of_redemptions() -> None:
    """One order for each redemption made before this migration."""
    bind = op.get_bind()
    t = _tables()
    red, skus, products = t["nfg_redemptions"], t["mall_skus"], t["mall_products"]
    rows = bind.execute(
        sa.select(red, skus.c.product_id, skus.c.name.label("sku_name"), skus.c.price_fen)
        .add_columns(products.c.title)
        .join(skus, sa.and_(skus.c.tenant_id == red.c.tenant_id, skus.c.sku_id == red.c.sku_id))
        .join(
            products,
            sa.and_(
                products.c.tenant_id == skus.c.tenant_id,
                products.c.product_id == skus.c.product_id,
            ),
        )
        .order_by(red.c.tenant_id, red.c.redemption_id)
    ).all()
    for r in rows:
        order_id = "ord_" + r.redemption_id.split("_", 1)[-1]
        status = ORDER_STATUS[r.status]
        closed = r.closed_at
        bind.execute(
            sa.insert(t["mall_orders"]).values(
                tenant_id=r.tenant_id,
                order_id=order_id,
                checkout_id=r.redemption_id,
                user_id=r.user_id,
                merchant_id=r.merchant_id,
                status=status,
                total_fen=0,
                money_fen=0,
                stable_fen=0,
                created_at=r.created_at,
                pay_by=r.created_at,
                paid_at=r.created_at,
                shipped_at=r.shipped_at,
                received_at=closed if status == "completed" else None,
                completed_at=closed if status == "completed" else None,
                cancelled_at=closed if status == "cancelled" else None,
                carrier=r.carrier,
                tracking_number=r.tracking_number,
                shipping_recipient=r.recipient,
                shipping_phone=r.phone,
                shipping_address=r.address,
                redemption_id=r.redemption_id,
                redemption_collection_id=r.collection_id,
                redemption_serial=r.serial,
            )
        )
        bind.execute(
            sa.insert(t["mall_order_lines"]).values(
                tenant_id=r.tenant_id,
                order_id=order_id,
                line_no=1,
                sku_id=r.sku_id,
                product_id=r.product_id,
                title=r.title,
                sku_name=r.sku_name,
                unit_price_fen=r.price_fen,
                quantity=1,
                line_total_fen=r.price_fen,
                pool_contribution_fen=None,
            )
        )
        bind.execute(sa.insert(t["mall_order_events"]), _events(r, order_id, status))
        bind.execute(
            sa.update(red)
            .where(red.c.tenant_id == r.tenant_id, red.c.redemption_id == r.redemption_id)
            .values(order_id=order_id)
        )


def upgrade() -> None:
    with op.batch_alter_table("mall_orders", recreate="never") as batch:
        for name, kind in ORDER_COLUMNS:
            batch.add_column(sa.Column(name, kind, nullable=True))
    _set_check("mall_orders", CHECK, OLD_CHECK, NEW_CHECK)
    with op.batch_alter_table("nfg_redemptions", recreate="never") as batch:
        batch.add_column(sa.Column("order_id", sa.String(length=40), nullable=True))
    _orders_of_redemptions()
    status_check = _status_check()
    with op.batch_alter_table("nfg_redemptions") as batch:
        batch.drop_constraint(op.f(status_check), type_="check")
        for name, _ in SHIPPING:
            batch.drop_column(name)
        batch.alter_column("order_id", existing_type=sa.String(length=40), nullable=False)
        batch.create_foreign_key(
            "fk_nfg_redemptions_order",
            "mall_orders",
            ["tenant_id", "order_id"],
            ["tenant_id", "order_id"],
        )
    op.create_index(
        "uq_nfg_redemptions_order", "nfg_redemptions", ["tenant_id", "order_id"], unique=True
    )


def _shipping_back() -> None:
    """The redemptions' shipping columns written back from their orders, the orders deleted."""
    bind = op.get_bind()
    t = _tables()
    red, o = t["nfg_redemptions"], t["mall_orders"]
    rows = bind.execute(
        sa.select(red.c.tenant_id, red.c.redemption_id, red.c.order_id, o).join(
            o, sa.and_(o.c.tenant_id == red.c.tenant_id, o.c.order_id == red.c.order_id)
        )
    ).all()
    for r in rows:
        closed = r.cancelled_at if r.status == "cancelled" else r.received_at
        events = t["mall_order_events"]
        closer = bind.execute(
            sa.select(events.c.actor)
            .where(
                events.c.tenant_id == r.tenant_id,
                events.c.order_id == r.order_id,
                events.c.to_status.in_(("received", "cancelled")),
            )
            .order_by(events.c.event_id)
            .limit(1)
        ).scalar()
        bind.execute(
            sa.update(red)
            .where(red.c.tenant_id == r.tenant_id, red.c.redemption_id == r.redemption_id)
            .values(
                status=BACK.get(r.status, "delivered" if r.status == "completed" else r.status),
                recipient=r.shipping_recipient or "",
                phone=r.shipping_phone or "",
                address=r.shipping_address or "",
                carrier=r.carrier,
                tracking_number=r.tracking_number,
                closed_by=closer,
                shipped_at=r.shipped_at,
                closed_at=closed,
            )
        )
        for table in ("mall_order_events", "mall_order_lines"):
            child = t[table]
            bind.execute(
                sa.delete(child).where(
                    child.c.tenant_id == r.tenant_id, child.c.order_id == r.order_id
                )
            )
    bind.execute(sa.update(red).values(order_id=None))
    bind.execute(sa.delete(o).where(o.c.redemption_id.is_not(None)))


def downgrade() -> None:
    op.drop_index("uq_nfg_redemptions_order", table_name="nfg_redemptions")
    with op.batch_alter_table("nfg_redemptions") as batch:
        batch.drop_constraint("fk_nfg_redemptions_order", type_="foreignkey")
        batch.alter_column("order_id", existing_type=sa.String(length=40), nullable=True)
        for name, kind in SHIPPING:
            batch.add_column(sa.Column(name, kind, nullable=True))
    _shipping_back()
    with op.batch_alter_table("nfg_redemptions") as batch:
        batch.drop_column("order_id")
        for name, existing in SHIPPING:
            if name in NOT_NULL:
                batch.alter_column(name, existing_type=existing, nullable=False)
        batch.create_check_constraint("ck_nfg_redemptions_status", STATUS_CHECK)
    _set_check("mall_orders", CHECK, NEW_CHECK, OLD_CHECK)
    with op.batch_alter_table("mall_orders", recreate="never") as batch:
        for name, _ in reversed(ORDER_COLUMNS):
            batch.drop_column(name)
