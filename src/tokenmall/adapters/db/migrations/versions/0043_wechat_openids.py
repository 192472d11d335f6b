"""the shoppers' WeChat openids: wechat_openids

Revision ID: 0043_wechat_openids
Revises: 0042_anchor_deploy_tx
Create Date: 2026-12-06

A member's openid under the shop's WeChat app, learnt by OAuth (``snsapi_base``) inside
WeChat's browser, so a JSAPI payment can name its payer: one per (tenant, member, app id).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0043_wechat_openids"
down_revision = "0042_anchor_deploy_tx"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "wechat_openids",
        sa.Column("tenant_id", sa.String(64), nullable=False),
        sa.Column("user_id", sa.String(40), nullable=False),
        sa.Column("app_id", sa.String(32), nullable=False),
        sa.Column("openid", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", "app_id", name="pk_wechat_openids"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "user_id"],
            ["mall_users.tenant_id", "mall_users.user_id"],
            name="fk_wechat_openids_user",
        ),
        sa.CheckConstraint("openid <> ''", name=op.f("ck_wechat_openids_openid")),
    )


def downgrade() -> None:
    op.drop_table("wechat_openids")
