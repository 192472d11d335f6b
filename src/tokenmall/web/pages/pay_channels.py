"""The order page's payment part: the tenant's channels to choose from, what the channel
says on the shopper's return, and the QR code a WeChat Pay Native payment is paid with.

A shopper back from paying often arrives before the channel's callback: the order page asks
the channel about the order's open payment (``channel_sync.sync_payment``), so a paid order
shows paid at once. A channel that cannot be asked leaves the page as it was (its callback,
or the next visit, settles it).
"""

from __future__ import annotations

import logging

from fastapi import Request

from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.payments import Payment
from tokenmall.services.mall import channel_sync, payments
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.payment_channels import order_gateway, registry_of
from tokenmall.web.pages import sessions
from tokenmall.web.pages.nfg_certificate import qr_svg

log = logging.getLogger("tokenmall.payments")

QR_SCHEME = "weixin://"  # WeChat Pay Native: the payer scans this with WeChat


def choices(request: Request, tenant_id: str) -> list[str]:
    """The channels a shopper of the tenant may pay through, the default first."""
    with sessions.database(request).reading() as uow:
        return channels.enabled_channels(uow, tenant_id, registry_of(request), utc_now())


def refreshed(request: Request, caller: Principal, tenant_id: str, found: list[Payment]) -> bool:
    """Ask the channel about each open payment a real channel holds; True if one moved."""
    moved = False
    for payment in found:
        if payment.status not in payments.OPEN or payment.gateway in ("sandbox", "none"):
            continue
        try:
            gateway = order_gateway(request, tenant_id)
            after = channel_sync.sync_payment(
                sessions.database(request),
                caller,
                tenant_id,
                payment.payment_id,
                gateway,
                utc_now(),
            )
        except DomainError as exc:
            log.warning(
                "payment query on return failed",
                extra={"fields": {"payment_id": payment.payment_id, "error": str(exc)}},
            )
            continue
        moved = moved or after.status != payment.status
    return moved


def qr_code(found: list[Payment]) -> str | None:
    """The inline SVG QR code of the order's open WeChat Pay Native payment, if it has one."""
    for payment in reversed(found):
        if payment.status in payments.OPEN and payment.redirect_url.startswith(QR_SCHEME):
            return qr_svg(payment.redirect_url)
    return None
