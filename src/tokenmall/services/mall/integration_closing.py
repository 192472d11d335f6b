"""An integrated shop's later events for an order it reported paid: completed, refunded.

Each is idempotent: the same event with the same body answers as it first did.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tokenmall.domain.mall.integration import IntegrationOrder
from tokenmall.domain.mall.people import Scope
from tokenmall.domain.mall.transitions import INTEGRATION_ORDER, Actor
from tokenmall.domain.money import format_money
from tokenmall.services.mall import validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.mall.integration import (
    ADMIN,
    Answer,
    OrderViews,
    book,
    event_data,
    external_id,
    replay,
    store_answer,
    with_values,
)
from tokenmall.services.unit_of_work import UnitOfWork


def completed(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    external_order_id: str,
    *,
    request_hash: str,
    now: datetime,
    views: OrderViews,
) -> Answer:
    require(caller, tenant_id, ADMIN, scope=Scope.INTEGRATION)
    external_id(external_order_id, "external_order_id")
    first = replay(uow, tenant_id, external_order_id, "completed", request_hash)
    if first is not None:
        return first
    order = existing(uow, tenant_id, external_order_id, "completed")
    # Read again under the order's lock: an identical push that held it first is replayed.
    first = replay(uow, tenant_id, external_order_id, "completed", request_hash)
    if first is not None:
        return first
    state = INTEGRATION_ORDER.check(
        order.state,
        "complete",
        Actor.INTEGRATION,
        external_order_id=external_order_id,
        doing="complete",
    )
    values: dict[str, Any] = {"state": state, "completed_at": now}
    if not order.booked:
        rewards = book(uow, views, order, now)
        values.update(booked=True, rewards=rewards, booked_at=now)
    uow.ledger.complete(tenant_id, order_ref=order.order_ref, now=now)
    order = with_values(order, **values)
    uow.integration.update_order(order, list(values))
    uow.outbox.emit(tenant_id, "order.completed", event_data(views, order), now)
    return store_answer(uow, views, order, "completed", request_hash, now)


def refunded(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    external_order_id: str,
    *,
    amount: str | None,
    adjustment: bool,
    request_hash: str,
    now: datetime,
    views: OrderViews,
) -> Answer:
    who = require(caller, tenant_id, ADMIN, scope=Scope.INTEGRATION)
    external_id(external_order_id, "external_order_id")
    first = replay(uow, tenant_id, external_order_id, "refunded", request_hash)
    if first is not None:
        return first
    order = existing(uow, tenant_id, external_order_id, "refunded")
    # Read again under the order's lock: an identical push that held it first is replayed.
    first = replay(uow, tenant_id, external_order_id, "refunded", request_hash)
    if first is not None:
        return first
    refund_fen = order.amount_fen
    if amount is not None:
        refund_fen = validate.money(amount, "amount")
        if refund_fen > order.amount_fen:
            raise InvalidInput(
                f"amount must not exceed the order's {format_money(order.amount_fen)}", "amount"
            )
    if not order.booked and refund_fen != order.amount_fen:
        raise InvalidInput(
            "before its rewards are booked an order is refunded whole "
            f"({format_money(order.amount_fen)})",
            "amount",
        )
    if order.booked and not adjustment:
        raise Conflict(
            f"order {external_order_id!r}'s rewards are booked and final (rule 9); refunding "
            'it now is an admin\'s audited adjustment: send "adjustment": true',
            "adjustment",
        )
    uow.ledger.refund(
        tenant_id,
        user=order.user_id,
        order_ref=order.order_ref,
        amount_fen=refund_fen,
        booked=order.booked,
        approved_by=who.subject_id if order.booked else None,
        now=now,
    )
    state = INTEGRATION_ORDER.check(
        order.state,
        "refund",
        Actor.INTEGRATION,
        external_order_id=external_order_id,
        doing="be refunded",
    )
    values: dict[str, Any] = {"state": state, "refunded_fen": refund_fen, "refunded_at": now}
    order = with_values(order, **values)
    uow.integration.update_order(order, list(values))
    data = event_data(views, order)
    data["adjustment"] = order.booked
    uow.outbox.emit(tenant_id, "order.refunded", data, now)
    return store_answer(uow, views, order, "refunded", request_hash, now)


def get_order(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, external_order_id: str
) -> IntegrationOrder:
    require(caller, tenant_id, ADMIN, scope=Scope.INTEGRATION)
    order = uow.integration.get_order(tenant_id, external_order_id)
    if order is None:
        raise NotFound(f"no order {external_order_id!r}")
    return order


def existing(
    uow: UnitOfWork, tenant_id: str, external_order_id: str, event: str
) -> IntegrationOrder:
    order = uow.integration.get_order(tenant_id, external_order_id, for_update=True)
    if order is None:
        raise Conflict(
            f"order {external_order_id!r} has not been reported paid; report it paid before "
            f"it is {event}"
        )
    return order
