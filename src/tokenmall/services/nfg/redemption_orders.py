"""The token's side of a redemption's order (提货): the unit of work's ``token_orders`` port.

``services/mall/orders.py`` calls ``closed`` whenever a redemption's order moves to received
(its owner confirmed receipt, the merchant marked it delivered, or the order clock confirmed
it) or to cancelled (before it shipped), in the transaction of that move, after the order's
row is locked. The token follows: received burns it (``redeemed``, the collection's burned
counter + 1, a voucher's use recorded, a ``redemption_delivered`` leaf), cancelled holds it
again (a ``redemption_cancelled`` leaf). A token that cannot follow refuses the move, so the
order and its token never disagree. The leaf is appended here; its checkpoint is signed by the
next append or the scheduler's tick (``checkpoints.sign_if_due``), since the order's paths do
not carry the deployment's signing key.
"""

from __future__ import annotations

from datetime import datetime

from tokenmall.adapters.db.nfg.registry import RightUse
from tokenmall.domain.mall.orders import Order, OrderStatus
from tokenmall.domain.mall.transitions import Actor
from tokenmall.domain.nfg import events as ev
from tokenmall.domain.nfg.lifecycle import TOKEN
from tokenmall.domain.nfg.records import TokenState
from tokenmall.domain.nfg.redemptions import RedemptionKind
from tokenmall.services.log.appending import append
from tokenmall.services.mall import ids
from tokenmall.services.mall.errors import Conflict
from tokenmall.services.mall.orders import CANCELLED_NOTE
from tokenmall.services.mall.uow import MallUnitOfWork


class RedemptionSteps:
    """``TokenOrders`` over a ``MallUnitOfWork`` (wired by the composition root)."""

    def __init__(self, unit: MallUnitOfWork) -> None:
        self.unit = unit

    def closed(self, order: Order, by: str, note: str | None, now: datetime) -> None:
        link = order.redemption
        assert link is not None
        unit, tenant_id = self.unit, order.tenant_id
        unit.nfg.get_collection(tenant_id, link.collection_id, for_update=True)
        token = unit.nfg.get_token(tenant_id, link.collection_id, link.serial, for_update=True)
        if token is None:
            raise Conflict(f"the token of redemption {link.redemption_id!r} is gone", "status")
        fields: dict[str, object] = {"redemption": link.redemption_id, "by": by}
        if order.status == OrderStatus.RECEIVED:
            TOKEN.check(token.state, "deliver", Actor.SYSTEM)
            unit.nfg.move_token(
                tenant_id, link.collection_id, link.serial, state=TokenState.REDEEMED, now=now
            )
            unit.nfg.count_burned(tenant_id, link.collection_id)
            found = unit.redemptions.get(tenant_id, link.redemption_id)
            if found is not None and found.kind == RedemptionKind.VOUCHER:
                use = RightUse(
                    tenant_id,
                    ids.new_id("use"),
                    link.collection_id,
                    link.serial,
                    "voucher",
                    by,
                    None,
                    f"redemption {link.redemption_id}",
                    now,
                )
                unit.nfg.add_right_use(use)
            kind = ev.REDEMPTION_DELIVERED
        elif order.status == OrderStatus.CANCELLED:
            TOKEN.check(token.state, "cancel_redemption", Actor.SYSTEM)
            unit.nfg.move_token(
                tenant_id, link.collection_id, link.serial, state=TokenState.HELD, now=now
            )
            if note and note != CANCELLED_NOTE:
                fields["reason"] = note
            kind = ev.REDEMPTION_CANCELLED
        else:
            raise AssertionError(f"a redemption's order does not close as {order.status}")
        event = ev.token_event(kind, link.collection_id, link.serial, **fields)
        append(unit.log, tenant_id, [event], now)
