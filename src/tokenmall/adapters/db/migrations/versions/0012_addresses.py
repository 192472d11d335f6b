"""shipping addresses: each consumer's address book, and the address snapshot on orders

Revision ID: 0012_addresses
Revises: 0011_transaction_balance_check
Create Date: 2026-11-30

``mall_addresses`` holds a consumer's addresses (收货地址), one of them the default
(``adapters/db/mall/addresses.py``). ``mall_orders`` gains three nullable columns, a snapshot
of the address an order ships to (recipient, phone, the address as one text): editing or
deleting the address later never changes an order already placed, and orders placed before
this migration (or through the API without an address) have none.

Downgrade drops them again, through ``batch_alter_table`` with ``recreate="never"``: SQLite
(3.35 and later) drops a plain column in place with ``ALTER TABLE … DROP COLUMN``. Batch mode's
usual rebuild (copy, drop, rename) cannot run here: dropping ``mall_orders`` while order lines,
events, payments and refunds refer to it breaks their foreign keys inside the migration's
transaction, where SQLite cannot switch foreign keys off (a test downgrades with such rows).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_addresses"
down_revision = "0011_transaction_balance_check"
branch_labels = None
depends_on = None

SNAPSHOT = (
    ("shipping_recipient", 50),
    ("shipping_phone", 20),
    ("shipping_address", 400),
)


def upgrade() -> None:
    op.create_table(
        "mall_addresses",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("address_id", sa.String(length=40), nullable=False),
        sa.Column("user_id", sa.String(length=40), nullable=False),
        sa.Column("recipient", sa.String(length=50), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("region", sa.String(length=100), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.Column("postal_code", sa.String(length=6), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name=op.f("fk_mall_addresses_tenant_id_mall_users"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "address_id", name=op.f("pk_mall_addresses")),
    )
    op.create_index(
        "ix_mall_addresses_tenant_user", "mall_addresses", ["tenant_id", "user_id"], unique=False
    )
    # Adding nullable columns is a plain ALTER TABLE on both databases (no rebuild).
    with op.batch_alter_table("mall_orders") as batch:
        for name, length in SNAPSHOT:
            batch.add_column(sa.Column(name, sa.String(length=length), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mall_orders", recreate="never") as batch:
        for name, _ in reversed(SNAPSHOT):
            batch.drop_column(name)
    op.drop_index("ix_mall_addresses_tenant_user", table_name="mall_addresses")
    op.drop_table("mall_addresses")
