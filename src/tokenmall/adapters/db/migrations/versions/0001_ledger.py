"""ledger: tenants, params, state, holders, journals, postings, settled days

Revision ID: 0001_ledger
Revises:
Create Date: 2026-11-22 08:08:28.970858
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_ledger"
down_revision = None
branch_labels = None
depends_on = None

# PostgreSQL re-checks at commit that every journal balances per asset. A row-level deferred
# trigger on postings would run once per posting (a million times for a dividend day), so a
# statement-level trigger notes which journals a statement touched, and a deferred constraint
# trigger on that note runs once per journal at commit, sums its postings and refuses the
# commit if any asset does not net to zero. Postings are append-only.
BALANCE_TRIGGER = [
    """
    CREATE TABLE ledger_journal_checks (
        tenant_id varchar(64) NOT NULL,
        journal_id bigint NOT NULL,
        PRIMARY KEY (tenant_id, journal_id)
    )
    """,
    """
    CREATE FUNCTION ledger_note_journals() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        INSERT INTO ledger_journal_checks (tenant_id, journal_id)
        SELECT DISTINCT tenant_id, journal_id FROM new_postings
        ON CONFLICT DO NOTHING;
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER postings_note_journals AFTER INSERT ON postings
    REFERENCING NEW TABLE AS new_postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_note_journals()
    """,
    """
    CREATE FUNCTION ledger_check_journal() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        bad record;
    BEGIN
        SELECT asset, sum(amount) AS total INTO bad FROM postings
        WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id
        GROUP BY asset HAVING sum(amount) <> 0 LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'journal % of tenant % does not balance: % by %',
                NEW.journal_id, NEW.tenant_id, bad.asset, bad.total
                USING ERRCODE = 'check_violation';
        END IF;
        DELETE FROM ledger_journal_checks
        WHERE tenant_id = NEW.tenant_id AND journal_id = NEW.journal_id;
        RETURN NULL;
    END $$
    """,
    """
    CREATE CONSTRAINT TRIGGER journal_balances AFTER INSERT ON ledger_journal_checks
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION ledger_check_journal()
    """,
    """
    CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'postings are append-only: correct with a reversing journal'
            USING ERRCODE = 'check_violation';
    END $$
    """,
    """
    CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE ON postings
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only()
    """,
]

DROP_BALANCE_TRIGGER = [
    "DROP TRIGGER IF EXISTS postings_append_only ON postings",
    "DROP FUNCTION IF EXISTS ledger_append_only()",
    "DROP TRIGGER IF EXISTS postings_note_journals ON postings",
    "DROP FUNCTION IF EXISTS ledger_note_journals()",
    "DROP TABLE IF EXISTS ledger_journal_checks",
    "DROP FUNCTION IF EXISTS ledger_check_journal()",
]


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("params_version", sa.Integer(), nullable=False),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_tenants")),
    )
    op.create_table(
        "economy_state",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("pool", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("circulating", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("minted", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("burned", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("treasury", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dividend_pool", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("stable_outstanding", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("money_in", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("revenue", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dividends_paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("buybacks_paid", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_price_num", sa.BigInteger(), nullable=False),
        sa.Column("last_price_den", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("last_day", sa.Integer(), nullable=True),
        sa.Column("last_journal_id", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("params_version", sa.Integer(), nullable=False),
        sa.CheckConstraint("burned >= 0", name=op.f("ck_economy_state_burned_not_negative")),
        sa.CheckConstraint(
            "buybacks_paid >= 0", name=op.f("ck_economy_state_buybacks_paid_not_negative")
        ),
        sa.CheckConstraint(
            "circulating >= 0", name=op.f("ck_economy_state_circulating_not_negative")
        ),
        sa.CheckConstraint(
            "dividend_pool >= 0", name=op.f("ck_economy_state_dividend_pool_not_negative")
        ),
        sa.CheckConstraint(
            "dividends_paid >= 0", name=op.f("ck_economy_state_dividends_paid_not_negative")
        ),
        sa.CheckConstraint(
            "last_price_num > 0 AND last_price_den > 0",
            name=op.f("ck_economy_state_last_price_positive"),
        ),
        sa.CheckConstraint(
            "minted - burned = circulating",
            name=op.f("ck_economy_state_circulating_is_minted_less_burned"),
        ),
        sa.CheckConstraint("minted >= 0", name=op.f("ck_economy_state_minted_not_negative")),
        sa.CheckConstraint("money_in >= 0", name=op.f("ck_economy_state_money_in_not_negative")),
        sa.CheckConstraint("pool >= 0", name=op.f("ck_economy_state_pool_not_negative")),
        sa.CheckConstraint("revenue >= 0", name=op.f("ck_economy_state_revenue_not_negative")),
        sa.CheckConstraint(
            "stable_outstanding >= 0", name=op.f("ck_economy_state_stable_outstanding_not_negative")
        ),
        sa.CheckConstraint("treasury >= 0", name=op.f("ck_economy_state_treasury_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_economy_state_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", name=op.f("pk_economy_state")),
    )
    op.create_table(
        "holders",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("points", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("cash", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("stable", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quota", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("quota_used", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("spend", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("dividends", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("exited", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("merchant", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("referrer", sa.String(length=100), nullable=True),
        sa.Column("points_seq", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("cash >= 0", name=op.f("ck_holders_cash_not_negative")),
        sa.CheckConstraint("dividends <= quota", name=op.f("ck_holders_dividends_within_quota")),
        sa.CheckConstraint("dividends >= 0", name=op.f("ck_holders_dividends_not_negative")),
        sa.CheckConstraint("points >= 0", name=op.f("ck_holders_points_not_negative")),
        sa.CheckConstraint("quota >= 0", name=op.f("ck_holders_quota_not_negative")),
        sa.CheckConstraint("quota_used <= quota", name=op.f("ck_holders_quota_used_within_quota")),
        sa.CheckConstraint("quota_used >= 0", name=op.f("ck_holders_quota_used_not_negative")),
        sa.CheckConstraint("spend >= 0", name=op.f("ck_holders_spend_not_negative")),
        sa.CheckConstraint("stable >= 0", name=op.f("ck_holders_stable_not_negative")),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_holders_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "name", name=op.f("pk_holders")),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "journals",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("journal_id", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("result", sa.Text(), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=True),
        sa.Column("reverses", sa.BigInteger(), nullable=True),
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_journals_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "journal_id", name=op.f("pk_journals")),
        sa.UniqueConstraint("tenant_id", "idempotency_key", name="uq_journals_tenant_key"),
        sa.UniqueConstraint("tenant_id", "reverses", name="uq_journals_tenant_reverses"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "settled_days",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("dividend_journal_id", sa.BigInteger(), nullable=False),
        sa.Column("exit_journal_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "settled_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_settled_days_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "business_date", name=op.f("pk_settled_days")),
    )
    op.create_table(
        "tenant_params",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("params", sa.Text(), nullable=False),
        sa.Column("journal_id", sa.BigInteger(), nullable=True),
        sa.Column("changed_by", sa.String(length=100), nullable=False),
        sa.Column(
            "changed_at",
            sa.DateTime(timezone=True),
            server_default=sa.text("(CURRENT_TIMESTAMP)"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.tenant_id"], name=op.f("fk_tenant_params_tenant_id_tenants")
        ),
        sa.PrimaryKeyConstraint("tenant_id", "version", name=op.f("pk_tenant_params")),
    )
    op.create_table(
        "postings",
        sa.Column("tenant_id", sa.String(length=64), nullable=False),
        sa.Column("journal_id", sa.BigInteger(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=32), nullable=False),
        sa.Column("holder", sa.String(length=100), server_default="", nullable=False),
        sa.Column("asset", sa.String(length=8), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint(
            "asset IN ('money', 'equity', 'stable')", name=op.f("ck_postings_asset")
        ),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_postings_amount_not_zero")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "journal_id"],
            ["journals.tenant_id", "journals.journal_id"],
            name=op.f("fk_postings_tenant_id_journals"),
        ),
        sa.PrimaryKeyConstraint("tenant_id", "journal_id", "line", name=op.f("pk_postings")),
        sqlite_with_rowid=False,
    )
    if op.get_bind().dialect.name == "postgresql":
        for statement in BALANCE_TRIGGER:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in DROP_BALANCE_TRIGGER:
            op.execute(statement)
    op.drop_table("postings")
    op.drop_table("tenant_params")
    op.drop_table("settled_days")
    op.drop_table("journals")
    op.drop_table("holders")
    op.drop_table("economy_state")
    op.drop_table("tenants")
