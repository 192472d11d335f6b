"""A mint is an acquisition for the market's T+N (market.md: a user who bought *or was minted*
a token of a collection on trading day d may sell none of it before d + N).

Under a profile whose hold counts per collection (``cn-licensed``), a grant or a drop's
assignment moves the recipient's ``bought`` mark to the mint's trading day (the next trading
day when minted on a closed day), as the market's own ``mint`` marks it. Other profiles keep no
marks: their hold, if any, counts from each token's own acquisition.
"""

from __future__ import annotations

from datetime import datetime

from tokenmall.domain.market import profile
from tokenmall.domain.market.calendar import TenantCalendar, business_day
from tokenmall.domain.market.profiles import HoldScope
from tokenmall.services.mall.uow import MallUnitOfWork


def mark_minted(
    unit: MallUnitOfWork, tenant_id: str, collection_id: str, owner_id: str, now: datetime
) -> None:
    """Record the mint to ``owner_id`` at ``now`` as their latest acquisition of the
    collection (never moving an existing mark back)."""
    found = unit.market.settings(tenant_id)
    if found is None or profile(found.profile).hold_scope is not HoldScope.COLLECTION:
        return
    day = TenantCalendar.of(unit.market.holidays(tenant_id)).clock(business_day(now))
    bought, _ = unit.market.marks(tenant_id, collection_id, owner_id)
    if bought is None or bought < day.settlement_day:
        unit.market.mark(tenant_id, collection_id, owner_id, "bought", day.settlement_day)
