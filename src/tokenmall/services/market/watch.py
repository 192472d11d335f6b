"""The wash-trade watch over stored data: a trade is flagged (never refused) when its buyer and
seller are linked in the referral tree within 3 levels (``domain.market.watch.linked``; a user
invited but not bound in the ledger, because the inviter is not verified yet, counts by the
invitation), or when both paid market cash in from the same payment account.

The payment account: the only payer data the mall holds is what the gateway reports for a
market deposit (``market_deposits.payer_account``; withdrawals carry no payee account and an
order's payment names none). Two users whose deposits came from one account are one wallet.
"""

from __future__ import annotations

from collections.abc import Callable

from tokenmall.domain.market.watch import linked
from tokenmall.services.mall.uow import MallUnitOfWork

REFERRAL = "referral_link"
PAYMENT_ACCOUNT = "shared_payment_account"


def watcher(unit: MallUnitOfWork, tenant_id: str) -> Callable[[str, str], str | None]:
    """``(buyer, seller) -> reason`` (None: not flagged), reading the tree as it goes."""
    known: dict[str, str | None] = {}

    def referrer_of(user: str) -> str | None:
        if user not in known:
            found = unit.referral_tree.referrers(tenant_id, [user]).get(user)
            if found is None:  # invited but not bound (an unverified inviter): still linked
                person = unit.people.get_user(tenant_id, user) if len(user) <= 40 else None
                found = None if person is None else person.inviter_id
            known[user] = found
        return known[user]

    def check(buyer: str, seller: str) -> str | None:
        if linked(buyer, seller, referrer_of):
            return REFERRAL
        accounts = unit.market.payer_accounts(tenant_id, buyer)
        if accounts and accounts & unit.market.payer_accounts(tenant_id, seller):
            return PAYMENT_ACCOUNT
        return None

    return check
