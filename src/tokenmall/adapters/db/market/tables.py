"""Tables of the market (文交所): each tenant's profile, per-collection settings, the trading
calendar's holidays, orders, trades, deposits, holders-ever, T+N marks and royalty payouts.

Keys lead with ``tenant_id``. CHECKs back the invariants the domain keeps (a price is > 0, fee
and royalty never exceed the price); a partial unique index keeps one open listing per token.
Rates are integers in parts per million (``Fraction(ppm, 1_000_000)`` in the domain).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    UniqueConstraint,
    text,
)

from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, in_list, metadata
from tokenmall.adapters.db.nfg.tables import collection_fk, tenant_fk

PPM = 1_000_000
PROFILE_NAMES = ("cn-gift-only", "cn-licensed", "open")
ORDER_KINDS = ("listing", "bid", "offer")
ORDER_STATUSES = ("open", "filled", "cancelled", "expired")


market_settings = Table(
    "market_settings",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("profile", String(16), nullable=False),
    Column("kyc_required", Boolean, nullable=False),
    Column("next_order_id", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", name="pk_market_settings"),
    CheckConstraint(in_list("profile", PROFILE_NAMES), name="ck_market_settings_profile"),
    CheckConstraint("next_order_id >= 1", name="ck_market_settings_next_order_id"),
    tenant_fk("market_settings"),
)

market_collections = Table(
    "market_collections",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("fee_ppm", Integer, nullable=False),
    Column("royalty_ppm", Integer, nullable=False),
    Column("band_ppm", Integer, nullable=True),
    Column("hold_trading_days", Integer, nullable=True),
    Column("holder_limit", Integer, nullable=True),
    Column("gift_hold_days", Integer, nullable=True),
    Column("halted", Boolean, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "collection_id", name="pk_market_collections"),
    CheckConstraint(
        f"fee_ppm >= 0 AND royalty_ppm >= 0 AND fee_ppm + royalty_ppm <= {PPM}",
        name="ck_market_collections_rates",
    ),
    CheckConstraint(
        f"band_ppm IS NULL OR (band_ppm >= 0 AND band_ppm <= {PPM})",
        name="ck_market_collections_band",
    ),
    collection_fk("market_collections"),
)

market_holidays = Table(
    "market_holidays",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("day", Date, nullable=False),
    Column("workday", Boolean, nullable=False),  # True: a weekend day that trades (调休)
    PrimaryKeyConstraint("tenant_id", "day", name="pk_market_holidays"),
    tenant_fk("market_holidays"),
)

market_orders = Table(
    "market_orders",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("order_id", BigInteger, nullable=False),  # per tenant, in acceptance order
    Column("kind", String(8), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("serial", BigInteger, nullable=True),  # listings and offers
    Column("to_user_id", String(ID), nullable=True),  # offers
    Column("price", BigInteger, nullable=False),
    Column("status", String(10), nullable=False),
    Column("reason", String(16), nullable=True),
    Column("expires_day", Integer, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("closed_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("tenant_id", "order_id", name="pk_market_orders"),
    CheckConstraint("price > 0", name="ck_market_orders_price"),
    CheckConstraint(in_list("kind", ORDER_KINDS), name="ck_market_orders_kind"),
    CheckConstraint(in_list("status", ORDER_STATUSES), name="ck_market_orders_status"),
    CheckConstraint(
        "(kind = 'bid' AND serial IS NULL) OR (kind <> 'bid' AND serial IS NOT NULL)",
        name="ck_market_orders_serial",
    ),
    CheckConstraint("(kind = 'offer') = (to_user_id IS NOT NULL)", name="ck_market_orders_to_user"),
    collection_fk("market_orders"),
)
Index(
    "ix_market_orders_open",
    market_orders.c.tenant_id,
    market_orders.c.collection_id,
    market_orders.c.kind,
    market_orders.c.status,
    market_orders.c.price,
)
Index(
    "ix_market_orders_user",
    market_orders.c.tenant_id,
    market_orders.c.user_id,
    market_orders.c.order_id,
)
Index(  # "offers to me": an agreement's addressee (migration 0029)
    "ix_market_orders_to_user",
    market_orders.c.tenant_id,
    market_orders.c.to_user_id,
    market_orders.c.status,
    market_orders.c.order_id,
    sqlite_where=text("to_user_id IS NOT NULL"),
    postgresql_where=text("to_user_id IS NOT NULL"),
)
Index(
    "uq_market_orders_one_listing",
    market_orders.c.tenant_id,
    market_orders.c.collection_id,
    market_orders.c.serial,
    unique=True,
    sqlite_where=text("status = 'open' AND kind = 'listing'"),
    postgresql_where=text("status = 'open' AND kind = 'listing'"),
)

TRADE_KINDS = ("take", "accept", "bid", "list")  # what the taker did

# A resting order fills once, so a trade's id is its resting order's id. ``taker_order_id``:
# the incoming bid or listing that traded at once (None for a take or an accept).
market_trades = Table(
    "market_trades",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("trade_id", BigInteger, nullable=False),
    Column("order_id", BigInteger, nullable=False),  # the resting order it filled
    Column("taker_order_id", BigInteger, nullable=True),
    Column("kind", String(8), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("serial", BigInteger, nullable=False),
    Column("seller_id", String(ID), nullable=False),
    Column("buyer_id", String(ID), nullable=False),
    Column("issuer_id", String(ID), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("fee", BigInteger, nullable=False),
    Column("royalty", BigInteger, nullable=False),
    Column("business_day", Date, nullable=False),
    Column("trading_day", Integer, nullable=False),
    Column("journal_id", BigInteger, nullable=True),
    Column("flagged", Boolean, nullable=False),
    Column("flag_reason", String(40), nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "trade_id", name="pk_market_trades"),
    CheckConstraint("price > 0", name="ck_market_trades_price"),
    CheckConstraint(
        "fee >= 0 AND royalty >= 0 AND fee + royalty <= price", name="ck_market_trades_parts"
    ),
    CheckConstraint("seller_id <> buyer_id", name="ck_market_trades_parties"),
    CheckConstraint(in_list("kind", TRADE_KINDS), name="ck_market_trades_kind"),
    CheckConstraint("flagged = (flag_reason IS NOT NULL)", name="ck_market_trades_flag"),
    collection_fk("market_trades"),
)
Index(
    "ix_market_trades_collection",
    market_trades.c.tenant_id,
    market_trades.c.collection_id,
    market_trades.c.created_at,
)
Index("ix_market_trades_buyer", market_trades.c.tenant_id, market_trades.c.buyer_id)
Index("ix_market_trades_seller", market_trades.c.tenant_id, market_trades.c.seller_id)

DEPOSIT_STATUSES = ("pending", "paid")

# Market cash paid in through the payment gateway: ``deposit_id`` is ``dep_…``, its payment
# ``pay_dep_…`` (the gateway's reference names the deposit). ``payer_account``: the paying
# account as the gateway reports it (the wash-trade watch compares them), when it does.
market_deposits = Table(
    "market_deposits",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("deposit_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("status", String(8), nullable=False),
    Column("payer_account", String(ID), nullable=True),
    Column("journal_id", BigInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("paid_at", DateTime(timezone=True), nullable=True),
    PrimaryKeyConstraint("tenant_id", "deposit_id", name="pk_market_deposits"),
    CheckConstraint("amount > 0", name="ck_market_deposits_amount"),
    CheckConstraint(in_list("status", DEPOSIT_STATUSES), name="ck_market_deposits_status"),
    tenant_fk("market_deposits"),
)
Index("ix_market_deposits_user", market_deposits.c.tenant_id, market_deposits.c.user_id)

market_holders = Table(
    "market_holders",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    PrimaryKeyConstraint("tenant_id", "collection_id", "user_id", name="pk_market_holders"),
    collection_fk("market_holders"),
)

market_holds = Table(
    "market_holds",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("collection_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("bought", Integer, nullable=True),  # trading day of the last acquisition
    Column("sold", Integer, nullable=True),  # trading day of the last sale
    PrimaryKeyConstraint("tenant_id", "collection_id", "user_id", name="pk_market_holds"),
    collection_fk("market_holds"),
)

# Royalties paid out to their issuers (the merchant issuing the collection, or ``platform``):
# each payout moves what the issuer's trades accrued and no payout took yet into its cash, as
# one ``royalty_payout`` journal. ``payout_id`` is that journal's id; one payout per issuer
# and business day, so a rerun of the day's duty changes nothing.
market_royalty_payouts = Table(
    "market_royalty_payouts",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("payout_id", BigInteger, nullable=False),
    Column("issuer_id", String(ID), nullable=False),
    Column("business_day", Date, nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("journal_id", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("tenant_id", "payout_id", name="pk_market_royalty_payouts"),
    UniqueConstraint(
        "tenant_id", "issuer_id", "business_day", name="uq_market_royalty_payouts_day"
    ),
    CheckConstraint("amount > 0", name="ck_market_royalty_payouts_amount"),
    tenant_fk("market_royalty_payouts"),
)
