"""Asking the channel about a payment whose callback has not come (yet).

* ``sync_payment`` (query-on-return): the payer is back on the mall before the channel's
  callback; the channel is asked, and an outcome it reports is applied exactly as its callback
  would be (recorded, idempotent by the channel's transaction id, so the callback that comes
  later is a replay and changes nothing).
* ``sync_open``: the scheduler's round asks the channel about every payment still open a
  minute after it was made (a callback lost or late) and applies the answer the same way.

Closing payments at their channels (an order timed out or cancelled) is
``orders.close_at_channels``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from tokenmall.domain.mall.gateway import (
    CallbackEvent,
    CallbackRefused,
    CreatedPayment,
    GatewayRefund,
)
from tokenmall.domain.mall.payments import Payment
from tokenmall.services.mall import paid_callbacks, payments
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.gateway import Gateway, channel_named
from tokenmall.services.mall.uow import Database

log = logging.getLogger("tokenmall.payments")


class _Answered:
    """The channel's answer to our query as a verified callback: the query itself was signed
    and its answer verified by the channel's gateway."""

    def __init__(self, gateway: Gateway, event: CallbackEvent) -> None:
        self.name = gateway.name
        self._gateway = gateway
        self._event = event

    def create_payment(
        self, *, tenant_id: str, payment_id: str, order_id: str, amount_fen: int
    ) -> CreatedPayment:
        raise AssertionError("a query answer opens no payment")

    def verify_callback(self, headers: dict[str, str], body: bytes, now: datetime) -> CallbackEvent:
        return self._event

    def refund(
        self, *, provider_ref: str, refund_id: str, amount_fen: int, reason: str
    ) -> GatewayRefund:
        return self._gateway.refund(
            provider_ref=provider_ref, refund_id=refund_id, amount_fen=amount_fen, reason=reason
        )

    def query_payment(self, *, provider_ref: str) -> CallbackEvent | None:
        return self._event

    def close_payment(self, *, provider_ref: str) -> None:
        self._gateway.close_payment(provider_ref=provider_ref)


def _own(
    db: Database, caller: Principal | None, tenant_id: str, payment_id: str, system: bool = False
) -> Payment:
    with db.reading() as uow:
        if system:
            found = uow.payments.get(tenant_id, payment_id)
            if found is None:
                raise NotFound(f"no payment {payment_id!r}")
            return found
        payment, _ = payments.get_payment(uow, caller, tenant_id, payment_id)
    return payment


QUERY_AFTER = timedelta(minutes=1)
# the channels that answer a query (the sandbox's outcome comes only from its page)
ASKED = ("wechat", "alipay")


def sync_open(
    db: Database,
    gateway_of: Callable[[str], Gateway],
    now: datetime,
    *,
    older_than: timedelta = QUERY_AFTER,
    limit: int = 200,
) -> list[Payment]:
    """The scheduler's round: every payment still open for longer than ``older_than`` is
    asked of its channel and what the channel answers is applied as its callback would be
    (once: the callback coming later, or before, is a replay). A payment whose channel cannot
    be asked now is logged and asked next round. The payments that ended."""
    with db.reading() as uow:
        waiting = uow.payments.open_before(tuple(payments.OPEN), ASKED, now - older_than, limit)
    ended = []
    for payment in waiting:
        try:
            gateway = gateway_of(payment.tenant_id)
            after = _sync(
                db, None, payment.tenant_id, payment.payment_id, gateway, now, system=True
            )
        except Exception:
            log.exception(
                "payment %s: asking its channel failed; asked next round", payment.payment_id
            )
            continue
        if after.status not in payments.OPEN:
            ended.append(after)
    return ended


def sync_payment(
    db: Database,
    caller: Principal | None,
    tenant_id: str,
    payment_id: str,
    gateway: Gateway,
    now: datetime,
) -> Payment:
    """Ask the payment's channel how it stands and apply what it says; the payment after."""
    return _sync(db, caller, tenant_id, payment_id, gateway, now)


def _sync(
    db: Database,
    caller: Principal | None,
    tenant_id: str,
    payment_id: str,
    gateway: Gateway,
    now: datetime,
    *,
    system: bool = False,
) -> Payment:
    payment = _own(db, caller, tenant_id, payment_id, system)
    if payment.status not in payments.OPEN:
        return payment
    through = channel_named(gateway, payment.gateway)
    if through.name != payment.gateway:
        return payment
    event = through.query_payment(provider_ref=payment.provider_ref)
    if event is None or event.tenant_id != tenant_id or event.payment_id != payment_id:
        return payment
    body = json.dumps(
        {
            "queried": True,
            "event_id": event.event_id,
            "type": event.type,
            "provider_ref": event.provider_ref,
            "amount_fen": event.amount_fen,
        }
    ).encode()
    try:
        paid_callbacks.handle_callback(db, _Answered(through, event), {}, body, now)
    except CallbackRefused as exc:
        if exc.reason != "replayed":  # the callback came meanwhile: nothing more to do
            raise
    return _own(db, caller, tenant_id, payment_id, system)
