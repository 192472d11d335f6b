"""Which channel pays a tenant's payout, and which bills its day is reconciled with: the
``PayoutChannels`` and ``BillSources`` ports over the tenant's payment channels.

A payout to a WeChat openid goes through the tenant's WeChat Pay merchant account, one to an
Alipay login through its Alipay account, when the tenant has that channel on (with its key
set); else through the sandbox while the tenant has the sandbox on (development and the demo);
else there is no channel and an approval pays the withdrawal manually. A payout sent before is
asked again where it went: the sandbox's (its reference says so), or the real channel even if
the tenant switched it off since (the transfer may be under way there).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from tokenmall.domain.mall.payouts import PAYOUT_CHANNELS
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.gateway import Gateway, GatewayUnavailable
from tokenmall.services.mall.payment_channels import (
    SANDBOX,
    Registry,
    enabled_channels,
    gateway_of,
)
from tokenmall.services.mall.uow import Database
from tokenmall.services.unit_of_work_payouts import Bills, Payouts

SANDBOX_REF = "sbxp_"  # the sandbox's reference of a transfer it took


class TenantPayouts:
    """``PayoutChannels`` over the tenants' channel settings; ``transfers_of`` makes a real
    channel's transfers from the tenant's gateway (None: that channel cannot pay out);
    ``sandbox``: the sandbox's transfers."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        transfers_of: Callable[[Gateway], Payouts | None],
        sandbox: Payouts,
        clock: Callable[[], datetime],
    ) -> None:
        self.sandbox = sandbox
        self.db = db
        self.registry = registry
        self.transfers_of = transfers_of
        self.clock = clock

    def payable(self, tenant_id: str) -> frozenset[str]:
        with self.db.reading() as uow:
            on = enabled_channels(uow, tenant_id, self.registry, self.clock())
        if SANDBOX in on:
            return frozenset(PAYOUT_CHANNELS)
        return frozenset(name for name in on if name in PAYOUT_CHANNELS)

    def of(
        self, tenant_id: str, channel: str, *, channel_ref: str | None, retry: bool
    ) -> Payouts | None:
        now = self.clock()
        with self.db.reading() as uow:
            on = enabled_channels(uow, tenant_id, self.registry, now)
            through_sandbox = channel_ref is not None and channel_ref.startswith(SANDBOX_REF)
            if not through_sandbox and (channel in on or retry):
                try:
                    gateway = gateway_of(
                        uow, tenant_id, channel, self.registry, "", now, for_callbacks=retry
                    )
                except (GatewayUnavailable, NotFound):
                    gateway = None
                if gateway is not None or channel in on:
                    return None if gateway is None else self.transfers_of(gateway)
        if self.registry.sandbox_on and (SANDBOX in on or through_sandbox):
            return self.sandbox
        return None


class TenantBills:
    """``BillSources`` over the tenants' channel settings: each channel the tenant has on is
    reconciled with its bill (the sandbox's while the deployment allows it); ``bills_of``
    makes a real channel's bills from the tenant's gateway (None: it has no bill here)."""

    def __init__(
        self,
        db: Database,
        registry: Registry,
        bills_of: Callable[[Gateway], Bills | None],
        sandbox: Callable[[str], Bills],
        clock: Callable[[], datetime],
    ) -> None:
        self.db = db
        self.registry = registry
        self.bills_of = bills_of
        self.sandbox = sandbox
        self.clock = clock

    def of(self, tenant_id: str) -> Mapping[str, Bills]:
        now = self.clock()
        out: dict[str, Bills] = {}
        with self.db.reading() as uow:
            for name in enabled_channels(uow, tenant_id, self.registry, now):
                if name == SANDBOX:
                    out[name] = self.sandbox(tenant_id)
                    continue
                try:
                    gateway = gateway_of(uow, tenant_id, name, self.registry, "", now)
                except (GatewayUnavailable, NotFound):
                    continue  # its keys no longer load: the channel's page says so
                found = self.bills_of(gateway)
                if found is not None:
                    out[name] = found
        return out
