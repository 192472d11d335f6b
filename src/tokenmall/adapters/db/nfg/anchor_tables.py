"""Tables of the checkpoints' anchoring on an EVM chain.

``log_anchor_settings``: per tenant, the chain's JSON-RPC URL, its chain id, the anchoring
contract's address (NULL until deployed) with the deploying transaction's hash and block
when tokenmall deployed it and the sending account: its address and its
private key sealed under the deployment's secret. ``log_anchors``: one row per anchored
checkpoint (keyed by its tree size, so a checkpoint is never anchored twice): the root it
anchors, its status, the transaction (hash, nonce), the block that holds it (number and
hash, to detect a reorganisation), the chain and contract, and the retry state (attempts,
next try, last error).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
)

from tokenmall.adapters.db.mall.tables import TENANT_ID, metadata

log_anchor_settings = Table(
    "log_anchor_settings",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("rpc_url", String(500), nullable=False),
    Column("chain_id", BigInteger, nullable=False),
    Column("contract", String(42), nullable=True),
    Column("account", String(42), nullable=False),
    Column("sealed_key", LargeBinary, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    Column("deploy_tx_hash", String(66), nullable=True),
    Column("deploy_block", BigInteger, nullable=True),
    PrimaryKeyConstraint("tenant_id", name="pk_log_anchor_settings"),
    ForeignKeyConstraint(
        ["tenant_id"],
        ["mall_tenants.tenant_id"],
        name="fk_log_anchor_settings_tenant_id_mall_tenants",
    ),
)

log_anchors = Table(
    "log_anchors",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("root", LargeBinary(32), nullable=False),
    Column("status", String(12), nullable=False),
    Column("chain_id", BigInteger, nullable=False),
    Column("contract", String(42), nullable=False),
    Column("tx_hash", String(66), nullable=True),
    Column("nonce", BigInteger, nullable=True),
    Column("block_number", BigInteger, nullable=True),
    Column("block_hash", String(66), nullable=True),
    Column("attempts", Integer, nullable=False),
    Column("next_try_at", DateTime(timezone=True), nullable=False),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "size", name="pk_log_anchors"),
    ForeignKeyConstraint(
        ["tenant_id", "size"],
        ["log_checkpoints.tenant_id", "log_checkpoints.size"],
        name="fk_log_anchors_checkpoint",
    ),
)
