"""Tables of the transparency log, one log per tenant.

``log_heads`` holds each tenant's tree size (locked by an append, so indexes are dense);
``log_leaves`` the leaves' bytes (canonical JSON) with their type and subject (a token's
``collection/serial``, a collection's id, a day) for the certificate's history;
``log_nodes`` every complete perfect subtree's hash (leaves are level 0), from which any root
and proof is a fold of at most 2·log2(n) rows; ``log_checkpoints`` the signed notes;
``log_keys`` each tenant's Ed25519 key, its private half sealed under the deployment's secret;
``log_days`` the settled ledger days already logged, with their digest. Nothing updates a leaf,
a node or a checkpoint.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from tokenmall.adapters.db.mall.tables import TENANT_ID, metadata


def _tenant_fk(table: str) -> ForeignKeyConstraint:
    return ForeignKeyConstraint(
        ["tenant_id"], ["mall_tenants.tenant_id"], name=f"fk_{table}_tenant_id_mall_tenants"
    )


def _at(name: str) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=False)


log_heads = Table(
    "log_heads",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("signed_size", BigInteger, nullable=False),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id", name="pk_log_heads"),
    _tenant_fk("log_heads"),
)

log_leaves = Table(
    "log_leaves",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("type", String(40), nullable=False),
    Column("subject", String(120), nullable=True),
    Column("leaf", LargeBinary, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "idx", name="pk_log_leaves"),
    _tenant_fk("log_leaves"),
)
Index(
    "ix_log_leaves_tenant_subject", log_leaves.c.tenant_id, log_leaves.c.subject, log_leaves.c.idx
)

log_nodes = Table(
    "log_nodes",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("level", Integer, nullable=False),
    Column("idx", BigInteger, nullable=False),
    Column("hash", LargeBinary(32), nullable=False),
    PrimaryKeyConstraint("tenant_id", "level", "idx", name="pk_log_nodes"),
    _tenant_fk("log_nodes"),
)

log_checkpoints = Table(
    "log_checkpoints",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", "size", name="pk_log_checkpoints"),
    _tenant_fk("log_checkpoints"),
)

log_keys = Table(
    "log_keys",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("name", String(200), nullable=False),
    Column("public_key", LargeBinary(32), nullable=False),
    Column("sealed_private_key", LargeBinary, nullable=False),
    _at("created_at"),
    PrimaryKeyConstraint("tenant_id", name="pk_log_keys"),
    _tenant_fk("log_keys"),
)

log_days = Table(
    "log_days",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("day", Date, nullable=False),
    Column("first_journal_id", BigInteger, nullable=True),
    Column("last_journal_id", BigInteger, nullable=True),
    Column("journals", BigInteger, nullable=False),
    Column("digest", LargeBinary(32), nullable=False),
    Column("leaf_index", BigInteger, nullable=False),
    PrimaryKeyConstraint("tenant_id", "day", name="pk_log_days"),
    _tenant_fk("log_days"),
)
