"""Sending a payout a console approval just made, through the configured channel (shared by
the console's withdrawals and the payouts' pages)."""

from __future__ import annotations

import logging

from fastapi import Request

from tokenmall import bootstrap
from tokenmall.services.mall import payouts
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.kyc import Sealer
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.payment_channels import registry_of
from tokenmall.web.pages import sessions

log = logging.getLogger("tokenmall.payouts")


def sealer(request: Request) -> Sealer:
    return bootstrap.kyc_sealer(sessions.settings(request).secret_key.get_secret_value())


def through_channel(request: Request, tenant_id: str) -> frozenset[str]:
    """The payee channels the tenant's approvals pay through (none: they are marked paid)."""
    channels = bootstrap.payout_channel(sessions.database(request), registry_of(request))
    return channels.payable(tenant_id)


def send_payout(request: Request, tenant_id: str, payout_id: str) -> None:
    """Ask the channel to pay (the scheduler retries a payout still processing)."""
    db = sessions.database(request)
    channels = bootstrap.payout_channel(db, registry_of(request))
    try:
        payouts.send(db, channels, sealer(request), tenant_id, payout_id, utc_now())
    except NotFound:  # the approval's transaction lost a race: no payout was made
        pass
    except Exception:  # the approval stands; the scheduler sends the payout again
        log.exception("payout %s: sending failed; the scheduler retries it", payout_id)
