"""The ledger's integration suites, run unchanged on the 3-node Citus cluster.

Each module below is imported whole: its tests run here with this folder's fixtures (a fresh
distributed database), as they run on SQLite and PostgreSQL in tests/integration.
Together they book every journal code but the sale (``test_citus_cluster`` books that one)
through the services (``execute``, the writers, the settlement, reversals), and check the
balance trigger, immutability and the audit on the shards.
"""

from __future__ import annotations

from test_audit import test_audit_is_clean_after_a_random_history  # noqa: F401
from test_cashflow import *  # noqa: F403
from test_ledger_commands import *  # noqa: F403
from test_market_cash import *  # noqa: F403
from test_refund_engine_vs_ledger import *  # noqa: F403
from test_royalty_payout_journal import *  # noqa: F403
from test_settlement import (  # noqa: F401  (the engine comparison's 18 variants: tests/integration)
    test_a_buyback_journal_posts_the_fee_where_sell_fee_to_says,
    test_a_day_before_the_last_settled_is_refused,
    test_capped_holders_exit_and_the_rest_share_again,
    test_each_recipient_has_a_dividend_posting,
    test_forced_exit_fees_go_where_sell_fee_to_says,
    test_settling_a_day_twice_equals_once,
)
from test_writer import *  # noqa: F403
