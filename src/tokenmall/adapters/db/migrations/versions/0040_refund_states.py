"""a refund's channel states: processing, failed, abandoned; its attempt and failure reason

Revision ID: 0040_refund_states
Revises: 0039_payment_redirect_url
Create Date: 2026-12-06

A refund the channel answers "processing" waits for its callback or a query instead of being
rolled back; one the channel fails is retried under a new attempt (a new request number at the
channel) or abandoned by an admin.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0040_refund_states"
down_revision = "0039_payment_redirect_url"
branch_labels = None
depends_on = None

OLD = "status IN ('requested', 'succeeded', 'rejected')"
NEW = "status IN ('requested', 'processing', 'succeeded', 'failed', 'abandoned', 'rejected')"
TABLE = "mall_refunds"
CHECK = "ck_mall_refunds_status"


def _set_check(old: str, new: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        op.drop_constraint(op.f(CHECK), TABLE, type_="check")
        op.create_check_constraint(op.f(CHECK), TABLE, new)
        return
    found = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (TABLE,)
    ).scalar_one()
    pattern = re.compile(rf"CONSTRAINT {CHECK} CHECK \({re.escape(old)}\)")
    assert len(pattern.findall(found)) == 1, f"{TABLE}: check {CHECK} not as expected"
    text = pattern.sub(lambda _: f"CONSTRAINT {CHECK} CHECK ({new})", found)
    version = int(bind.exec_driver_sql("PRAGMA schema_version").scalar_one())
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    bind.exec_driver_sql(
        "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?", (text, TABLE)
    )
    bind.exec_driver_sql(f"PRAGMA schema_version = {version + 1}")
    bind.exec_driver_sql("PRAGMA writable_schema = OFF")


def upgrade() -> None:
    _set_check(OLD, NEW)
    op.add_column(TABLE, sa.Column("attempt", sa.Integer(), nullable=False, server_default="1"))
    op.add_column(TABLE, sa.Column("failure_reason", sa.String(length=500), nullable=True))
    op.add_column(TABLE, sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=True))
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table(TABLE) as batch:
            batch.create_check_constraint(op.f("ck_mall_refunds_attempt_positive"), "attempt >= 1")
    else:
        op.create_check_constraint(op.f("ck_mall_refunds_attempt_positive"), TABLE, "attempt >= 1")


def downgrade() -> None:
    bind = op.get_bind()
    left = bind.execute(
        sa.text(
            f"SELECT count(*) FROM {TABLE} WHERE status IN ('processing', 'failed', 'abandoned')"
        )
    ).scalar_one()
    if left:
        raise RuntimeError(
            f"{left} refunds are processing, failed or abandoned: finish them before downgrading"
        )
    if bind.dialect.name == "sqlite":
        with op.batch_alter_table(TABLE) as batch:
            batch.drop_constraint(op.f("ck_mall_refunds_attempt_positive"), type_="check")
            batch.drop_column("submitted_at")
            batch.drop_column("failure_reason")
            batch.drop_column("attempt")
    else:
        op.drop_constraint(op.f("ck_mall_refunds_attempt_positive"), TABLE, type_="check")
        op.drop_column(TABLE, "submitted_at")
        op.drop_column(TABLE, "failure_reason")
        op.drop_column(TABLE, "attempt")
    _set_check(NEW, OLD)
