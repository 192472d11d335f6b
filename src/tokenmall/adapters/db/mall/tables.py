"""The mall's tables (SQLAlchemy Core). ``tenant_id`` leads every key and every index.

The one exception is the platform itself: operators and their sessions exist above tenants.
Idempotency records use ``tenant_id = ''`` for platform-level requests. CHECK constraints back
what the code checks (stock never negative, prices positive, roles and statuses from a list).
The migration ``*_mall_*`` in the Alembic folder creates exactly these; a test compares them.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from tokenmall.adapters.db import tables as ledger_tables
from tokenmall.adapters.db.mall.rows import values
from tokenmall.domain.mall.catalogue import ProductStatus, StockReason
from tokenmall.domain.mall.people import KycStatus, Role

# The ledger's MetaData (same naming convention): one schema for Alembic to compare, and the
# mall's foreign key to the ledger's ``tenants`` resolves.
metadata = ledger_tables.metadata
MALL_TABLES: list[str] = []  # filled below: the names of the mall's own tables

ID = 40  # "usr_" + 26 characters of a time-ordered id, with room to spare
TENANT_ID = 64  # as the ledger's tenants.tenant_id
ROLES = values(Role)
KYC_STATUSES = values(KycStatus)
PRODUCT_STATUSES = values(ProductStatus)
STOCK_REASONS = values(StockReason)


def in_list(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _at(name: str, nullable: bool = False) -> Column[object]:
    return Column(name, DateTime(timezone=True), nullable=nullable)


operators = Table(
    "mall_operators",
    metadata,
    Column("operator_id", String(ID), nullable=False),
    Column("email", String(254), nullable=False),
    Column("password_hash", Text, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("operator_id"),
    UniqueConstraint("email", name="uq_mall_operators_email"),
)

operator_sessions = Table(
    "mall_operator_sessions",
    metadata,
    Column("session_id", String(ID), nullable=False),
    Column("operator_id", String(ID), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    _at("created_at"),
    _at("expires_at"),
    _at("revoked_at", nullable=True),
    PrimaryKeyConstraint("session_id"),
    ForeignKeyConstraint(["operator_id"], ["mall_operators.operator_id"]),
)

# The mall's side of a tenant. Its economy (parameters, their audited history, state) lives
# in the ledger's ``tenants``/``tenant_params``/``economy_state`` rows, created in the same
# transaction through ``Store.create_tenant``: one source of truth for the parameters.
tenants = Table(
    "mall_tenants",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("name", String(200), nullable=False),
    _at("created_at"),
    # Bumped with any change to the configuration the checkout caches (``config_version.py``).
    Column("config_version", BigInteger, nullable=False, server_default="0"),
    PrimaryKeyConstraint("tenant_id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"], name="fk_mall_tenants_ledger"),
)

users = Table(
    "mall_users",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("email", String(254), nullable=False),
    Column("display_name", String(100), nullable=False),
    Column("password_hash", Text, nullable=False),
    Column("role", String(16), nullable=False),
    Column("kyc_status", String(16), nullable=False),
    Column("invite_code", String(16), nullable=False),
    # Bound once at registration, never rewritten (no code path updates it).
    Column("inviter_id", String(ID), nullable=True),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "user_id"),
    UniqueConstraint("tenant_id", "email", name="uq_mall_users_tenant_email"),
    UniqueConstraint("tenant_id", "invite_code", name="uq_mall_users_tenant_invite_code"),
    ForeignKeyConstraint(["tenant_id"], ["mall_tenants.tenant_id"]),
    ForeignKeyConstraint(
        ["tenant_id", "inviter_id"],
        ["mall_users.tenant_id", "mall_users.user_id"],
        name="fk_mall_users_inviter",
    ),
    CheckConstraint(in_list("role", ROLES), name="role"),
    CheckConstraint(in_list("kyc_status", KYC_STATUSES), name="kyc_status"),
    CheckConstraint("inviter_id IS NULL OR inviter_id <> user_id", name="not_own_inviter"),
)

sessions = Table(
    "mall_sessions",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("session_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    _at("created_at"),
    _at("expires_at"),
    _at("revoked_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "session_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
)

api_keys = Table(
    "mall_api_keys",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("key_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("name", String(100), nullable=False),
    Column("secret_hash", String(64), nullable=False),
    _at("created_at"),
    _at("revoked_at", nullable=True),
    PrimaryKeyConstraint("tenant_id", "key_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
)

merchants = Table(
    "mall_merchants",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("merchant_id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("owner_user_id", String(ID), nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "merchant_id"),
    UniqueConstraint("tenant_id", "owner_user_id", name="uq_mall_merchants_tenant_owner"),
    ForeignKeyConstraint(
        ["tenant_id", "owner_user_id"], ["mall_users.tenant_id", "mall_users.user_id"]
    ),
)

products = Table(
    "mall_products",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("product_id", String(ID), nullable=False),
    Column("merchant_id", String(ID), nullable=False),
    Column("title", String(200), nullable=False),
    Column("description", Text, nullable=False),
    Column("status", String(16), nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "product_id"),
    ForeignKeyConstraint(
        ["tenant_id", "merchant_id"], ["mall_merchants.tenant_id", "mall_merchants.merchant_id"]
    ),
    CheckConstraint(in_list("status", PRODUCT_STATUSES), name="status"),
    Index("ix_mall_products_tenant_merchant", "tenant_id", "merchant_id"),
)

skus = Table(
    "mall_skus",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("sku_id", String(ID), nullable=False),
    Column("product_id", String(ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("price_fen", BigInteger, nullable=False),
    Column("stock", BigInteger, nullable=False),
    # The seed's "30 of every 100": a fixed contribution to the backing pool per unit sold,
    # instead of price × pool_rate. NULL means the tenant's pool_rate applies.
    Column("pool_contribution_fen", BigInteger, nullable=True),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "sku_id"),
    ForeignKeyConstraint(
        ["tenant_id", "product_id"], ["mall_products.tenant_id", "mall_products.product_id"]
    ),
    CheckConstraint("price_fen > 0", name="price_positive"),
    CheckConstraint("stock >= 0", name="stock_not_negative"),
    CheckConstraint(
        "pool_contribution_fen IS NULL OR "
        "(pool_contribution_fen >= 0 AND pool_contribution_fen <= price_fen)",
        name="contribution_within_price",
    ),
    Index("ix_mall_skus_tenant_product", "tenant_id", "product_id"),
)

# Every change of stock, with why; the counter on mall_skus is their running sum.
stock_movements = Table(
    "mall_stock_movements",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("movement_id", String(ID), nullable=False),
    Column("sku_id", String(ID), nullable=False),
    Column("change", BigInteger, nullable=False),
    Column("stock_after", BigInteger, nullable=False),
    Column("reason", String(16), nullable=False),
    Column("reference", String(100), nullable=True),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "movement_id"),
    ForeignKeyConstraint(["tenant_id", "sku_id"], ["mall_skus.tenant_id", "mall_skus.sku_id"]),
    CheckConstraint("change <> 0", name="change_not_zero"),
    CheckConstraint("stock_after >= 0", name="stock_after_not_negative"),
    CheckConstraint(in_list("reason", STOCK_REASONS), name="reason"),
    Index("ix_mall_stock_movements_tenant_sku", "tenant_id", "sku_id"),
)

# The first answer to each (tenant, caller, Idempotency-Key), replayed for the same request.
idempotency = Table(
    "mall_idempotency",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("scope", String(64), nullable=False),
    Column("idempotency_key", String(200), nullable=False),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response_body", Text, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "scope", "idempotency_key"),
)

# The shopper's openid under the shop's WeChat app (OAuth ``snsapi_base`` inside WeChat), so a
# JSAPI payment names its payer: one per member and app id, replaced when WeChat answers another.
wechat_openids = Table(
    "wechat_openids",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("openid", String(128), nullable=False),
    _at("created_at"),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "user_id", "app_id", name="pk_wechat_openids"),
    ForeignKeyConstraint(
        ["tenant_id", "user_id"],
        ["mall_users.tenant_id", "mall_users.user_id"],
        name="fk_wechat_openids_user",
    ),
    CheckConstraint("openid <> ''", name="openid"),
)

MALL_TABLES.extend(name for name in metadata.tables if name.startswith("mall_"))
