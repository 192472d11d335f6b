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
from tokenmall.web.pages import sessions

log = logging.getLogger("tokenmall.payouts")


def sealer(request: Request) -> Sealer:
    return bootstrap.kyc_sealer(sessions.settings(request).secret_key.get_secret_value())


def through_channel(request: Request) -> bool:
    """Whether approvals pay through a channel (else they are marked paid)."""
    return bootstrap.payout_channel(sessions.settings(request).sandbox_gateway) is not None


def send_payout(request: Request, tenant_id: str, payout_id: str) -> None:
    """Ask the channel to pay (the scheduler retries a payout still processing)."""
    channel = bootstrap.payout_channel(sessions.settings(request).sandbox_gateway)
    if channel is not None:
        db = sessions.database(request)
        try:
            payouts.send(db, channel, sealer(request), tenant_id, payout_id, utc_now())
        except NotFound:  # the approval's transaction lost a race: no payout was made
            pass
        except Exception:  # the approval stands; the scheduler sends the payout again
            log.exception("payout %s: sending failed; the scheduler retries it", payout_id)
