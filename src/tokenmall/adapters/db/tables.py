"""The ledger's tables (SQLAlchemy Core). ``tenant_id`` leads every primary key.

Amounts are BIGINT minor units: fen for money and stable points, 1e-8 units for equity points
(the largest max supply, 1e16 units, fits with room). CHECKs back what the engine checks:
no balance below zero, quota used within quota. The migration ``0001_ledger`` creates exactly
these tables plus, on PostgreSQL, the deferred balance trigger; a test compares the two.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
    func,
)

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING)

TENANT = 64
NAME = 100
KEY = 200


def _amount(name: str) -> Column[int]:
    return Column(name, BigInteger, nullable=False, server_default="0")


def _not_negative(*names: str) -> list[CheckConstraint]:
    return [CheckConstraint(f"{n} >= 0", name=f"{n}_not_negative") for n in names]


tenants = Table(
    "tenants",
    metadata,
    Column("tenant_id", String(TENANT), nullable=False),
    Column("params", Text, nullable=False),  # Params.to_public() as JSON (decimal strings)
    Column("params_version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant_id"),
)

# Every parameter set a tenant ever had; each change after the first is a params_change journal.
tenant_params = Table(
    "tenant_params",
    metadata,
    Column("tenant_id", String(TENANT), nullable=False),
    Column("version", Integer, nullable=False),
    Column("params", Text, nullable=False),
    Column("journal_id", BigInteger, nullable=True),  # NULL for the set the tenant began with
    Column("changed_by", String(NAME), nullable=False),
    Column("changed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant_id", "version"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
)

ECONOMY_AMOUNTS = (
    "pool",
    "circulating",
    "minted",
    "burned",
    "treasury",
    "dividend_pool",
    "stable_outstanding",
    "money_in",
    "revenue",
    "dividends_paid",
    "buybacks_paid",
    # Money around the economy (0006_cashflow): see domain/economy/cashflow.py.
    "escrow",
    "commissions_frozen",
    "commissions_paid",
    "withdrawing",
    "withdrawn",
    "receivables",
    "cash_out",
    # The market's money (0024_market_trades): see domain/economy/market_cash.py.
    "market_deposits",
    "market_escrow",
    "market_fees",
    "royalties",
)

# One row per tenant: the aggregates of EconomyState. Its row lock serialises the simple path.
economy_state = Table(
    "economy_state",
    metadata,
    Column("tenant_id", String(TENANT), nullable=False),
    *(_amount(n) for n in ECONOMY_AMOUNTS),
    # The price while nothing circulates, fen per unit, as an exact fraction.
    Column("last_price_num", BigInteger, nullable=False),
    Column("last_price_den", BigInteger, nullable=False),
    _amount("seq"),  # events applied (leaderboard ties)
    Column("last_day", Integer, nullable=True),  # last settled business day (date ordinal)
    _amount("last_journal_id"),
    Column("params_version", Integer, nullable=False),
    PrimaryKeyConstraint("tenant_id"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
    *_not_negative(*ECONOMY_AMOUNTS),
    CheckConstraint("minted - burned = circulating", name="circulating_is_minted_less_burned"),
    CheckConstraint("last_price_num > 0 AND last_price_den > 0", name="last_price_positive"),
)

HOLDER_AMOUNTS = ("points", "cash", "stable", "quota", "quota_used", "spend", "dividends")

holders = Table(
    "holders",
    metadata,
    Column("tenant_id", String(TENANT), nullable=False),
    Column("name", String(NAME), nullable=False),
    *(_amount(n) for n in HOLDER_AMOUNTS),
    Column("exited", Boolean, nullable=False, server_default="0"),
    Column("merchant", Boolean, nullable=False, server_default="0"),
    Column("referrer", String(NAME), nullable=True),
    _amount("points_seq"),
    PrimaryKeyConstraint("tenant_id", "name"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
    *_not_negative(*HOLDER_AMOUNTS),
    CheckConstraint("quota_used <= quota", name="quota_used_within_quota"),
    CheckConstraint("dividends <= quota", name="dividends_within_quota"),
    sqlite_with_rowid=False,  # SQLite: rows clustered by (tenant_id, name), one b-tree
)

journals = Table(
    "journals",
    metadata,
    Column("tenant_id", String(TENANT), nullable=False),
    Column("journal_id", BigInteger, nullable=False),  # dense per tenant, given by the writer
    Column("code", String(32), nullable=False),
    Column("idempotency_key", String(KEY), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("result", Text, nullable=False),  # the caller's answer, JSON with decimal strings
    Column("business_date", Date, nullable=True),
    Column("reverses", BigInteger, nullable=True),  # the journal a reversal negates
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant_id", "journal_id"),
    UniqueConstraint("tenant_id", "idempotency_key", name="uq_journals_tenant_key"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
    sqlite_with_rowid=False,
)
# A journal is reversed at most once. Only reversals are indexed (migration 0014): an entry per
# journal cost every batch an index write, and a full index led by tenant_id was once the
# planner's way to every journal of a tenant (0013).
Index(
    "uq_journals_tenant_reverses",
    journals.c.tenant_id,
    journals.c.reverses,
    unique=True,
    postgresql_where=journals.c.reverses.isnot(None),
    sqlite_where=journals.c.reverses.isnot(None),
)

postings = Table(
    "postings",
    metadata,
    Column("tenant_id", String(TENANT), nullable=False),
    Column("journal_id", BigInteger, nullable=False),
    Column("line", Integer, nullable=False),
    Column("account", String(32), nullable=False),  # AccountKind
    Column("holder", String(NAME), nullable=False, server_default=""),  # '' for pools
    Column("asset", String(8), nullable=False),  # Asset
    Column("amount", BigInteger, nullable=False),  # signed minor units
    PrimaryKeyConstraint("tenant_id", "journal_id", "line"),
    # No per-row foreign key to journals (0010): on PostgreSQL the deferred per-journal check
    # refuses postings of a journal that does not exist; audit reports any such posting.
    CheckConstraint("amount <> 0", name="amount_not_zero"),
    CheckConstraint("asset IN ('money', 'equity', 'stable')", name="asset"),
    sqlite_with_rowid=False,
)

# A person's statement (流水) reads their postings newest first (migration 0025): an entry per
# posting to a person's account; the pools' postings (holder '') are not indexed.
Index(
    "ix_postings_holder",
    postings.c.tenant_id,
    postings.c.holder,
    postings.c.journal_id,
    postgresql_where=postings.c.holder != "",
    sqlite_where=postings.c.holder != "",
)

settled_days = Table(
    "settled_days",
    metadata,
    Column("tenant_id", String(TENANT), nullable=False),
    Column("business_date", Date, nullable=False),
    Column("dividend_journal_id", BigInteger, nullable=False),
    Column("exit_journal_id", BigInteger, nullable=False),
    Column("settled_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("tenant_id", "business_date"),
    ForeignKeyConstraint(["tenant_id"], ["tenants.tenant_id"]),
)
