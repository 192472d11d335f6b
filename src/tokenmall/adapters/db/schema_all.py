"""Every table module (the mall's and the transparency log's), imported so the shared ``metadata``

Alembic's comparisons (tests/integration/test_migrations.py, tests/api/test_api_schema_and_cli.py)
import this module; a new table module adds one import line here.
"""

from __future__ import annotations

import tokenmall.adapters.db.mall.access  # audit trail, key scopes, signup marks, caps
import tokenmall.adapters.db.mall.addresses  # consumers' shipping addresses
import tokenmall.adapters.db.mall.carts  # carts
import tokenmall.adapters.db.mall.commissions  # referrals, commissions, debts
import tokenmall.adapters.db.mall.events  # outbox, webhooks
import tokenmall.adapters.db.mall.integration  # integration API
import tokenmall.adapters.db.mall.kyc  # real-name submissions
import tokenmall.adapters.db.mall.orders  # orders, their lines and history
import tokenmall.adapters.db.mall.payment_channels  # payment channels, their sealed keys
import tokenmall.adapters.db.mall.payments  # payments, gateway events, callbacks
import tokenmall.adapters.db.mall.payouts  # payee accounts, payouts, reconciliations
import tokenmall.adapters.db.mall.refunds  # refunds
import tokenmall.adapters.db.mall.withdrawals  # withdrawals, settings
import tokenmall.adapters.db.market.tables  # the market (文交所)
import tokenmall.adapters.db.nfg.anchor_tables  # checkpoints anchored on an EVM chain
import tokenmall.adapters.db.nfg.log_tables  # the transparency log
import tokenmall.adapters.db.nfg.redemptions  # NFG redemptions (提货)
import tokenmall.adapters.db.nfg.tables  # the NFG registry
import tokenmall.adapters.db.storefront.tables  # noqa: F401  (the storefront)
from tokenmall.adapters.db.mall import tables  # noqa: F401  (operators … idempotency)
from tokenmall.adapters.db.mall.tables import metadata

__all__ = ["metadata"]
