"""Real-name submissions: kyc_submissions

Revision ID: 0021_kyc_submissions
Revises: 0020_nfg_rights
Create Date: 2026-12-05

``kyc_submissions`` holds what members submit for real-name verification: the masked name,
identity number and phone shown to people, the full values sealed under the deployment's
secret, a keyed fingerprint of the identity number, and the review (status, reason, reviewer).
Keyed by ``tenant_id`` first (``tokenmall.adapters.db.mall.kyc``).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021_kyc_submissions"
down_revision = "0020_nfg_rights"
branch_labels = None
depends_on = None


def _at(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _id(name: str, nullable: bool = False) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(length=40), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "kyc_submissions",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        _id("submission_id"),
        _id("user_id"),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("name_masked", sa.String(length=60), nullable=False),
        sa.Column("id_masked", sa.String(length=18), nullable=False),
        sa.Column("phone_masked", sa.String(length=11), nullable=True),
        sa.Column("id_fingerprint", sa.String(length=64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=True),
        _id("reviewed_by", nullable=True),
        _at("submitted_at"),
        _at("reviewed_at", nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "submission_id", name="pk_kyc_submissions"),
        sa.CheckConstraint(
            "status IN ('pending', 'verified', 'rejected')", name="ck_kyc_submissions_status"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name="fk_kyc_submissions_user",
        ),
    )
    op.create_index(
        "ix_kyc_submissions_status", "kyc_submissions", ["tenant_id", "status", "submission_id"]
    )
    op.create_index(
        "ix_kyc_submissions_user", "kyc_submissions", ["tenant_id", "user_id", "submission_id"]
    )
    op.create_index(
        "ix_kyc_submissions_fingerprint", "kyc_submissions", ["tenant_id", "id_fingerprint"]
    )


def downgrade() -> None:
    op.drop_index("ix_kyc_submissions_fingerprint", table_name="kyc_submissions")
    op.drop_index("ix_kyc_submissions_user", table_name="kyc_submissions")
    op.drop_index("ix_kyc_submissions_status", table_name="kyc_submissions")
    op.drop_table("kyc_submissions")
