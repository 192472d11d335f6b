"""The integration API: an existing shop pushes its orders' paid/completed/refunded events.

Server to server, with an admin's API key (``tmk.…``). Each event is idempotent twice over:
by the ``Idempotency-Key`` header like every write, and by (order, event) — the same event
pushed again, whatever its key, answers the first result (``Idempotency-Replayed: true``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Request, Response, status
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from tokenmall.services.mall import idempotency, integration
from tokenmall.services.mall.integration import Answer, ExternalUserIn
from tokenmall.services.mall.uow import utc_now
from tokenmall.web import idempotent
from tokenmall.web.api.common import TenantId
from tokenmall.web.api.schemas_integration import (
    ExternalId,
    IntegrationOrderOut,
    OrderCompletedIn,
    OrderPaidIn,
    OrderRefundedIn,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/integration",
    tags=["integration"],
    dependencies=[Depends(single_query_values)],
)

OrderId = Annotated[str, ExternalId]
_ERRORS = responses(*COMMON, 403, 409)


def _push(
    request: Request,
    db: Db,
    tenant_id: str,
    caller: Caller,
    key: str,
    payload: OrderPaidIn | OrderCompletedIn | OrderRefundedIn | None,
    event: str,
    handle: Callable[[Connection, str], Answer],
) -> Response:
    """Run one event: in one transaction, stored for its Idempotency-Key and its (order,
    event); a race of two identical pushes retries once and answers the first's result."""
    body = None if payload is None else payload.model_dump(mode="json")
    natural = idempotency.request_hash(event, request.url.path, body)
    replayed: list[bool] = []

    def action(conn: Connection) -> idempotent.Outcome:
        answer: Answer = handle(conn, natural)
        replayed.append(answer.replayed)
        out = IntegrationOrderOut.model_validate_json(answer.body)
        return answer.status, out, None

    for attempt in (1, 2):
        replayed.clear()
        try:
            response = idempotent.run(
                request,
                db,
                tenant_id=tenant_id,
                caller=caller,
                key=key,
                payload=payload,
                action=action,
            )
        except IntegrityError:
            if attempt == 2:
                raise
            continue
        if replayed and replayed[-1]:
            response.headers["Idempotency-Replayed"] = "true"
        return response
    raise AssertionError("unreachable")


@router.post(
    "/orders/{external_order_id}/paid",
    status_code=status.HTTP_201_CREATED,
    response_model=IntegrationOrderOut,
    summary="The shop's order was paid: money recorded, rewards booked if grant_on=paid (admins)",
    responses=_ERRORS,
)
def order_paid(
    tenant_id: TenantId,
    external_order_id: OrderId,
    payload: OrderPaidIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def handle(conn: Connection, natural: str) -> Answer:
        return integration.paid(
            conn,
            caller,
            tenant_id,
            external_order_id,
            user=ExternalUserIn(
                payload.user.external_id,
                payload.user.display_name,
                payload.user.referrer_external_id,
            ),
            amount=payload.amount,
            contribution=payload.contribution,
            request_hash=natural,
            now=utc_now(),
        )

    return _push(request, db, tenant_id, caller, key, payload, "paid", handle)


@router.post(
    "/orders/{external_order_id}/completed",
    response_model=IntegrationOrderOut,
    summary="The shop's order completed: rewards booked if grant_on=completed, commissions "
    "released (admins)",
    responses=_ERRORS,
)
def order_completed(
    tenant_id: TenantId,
    external_order_id: OrderId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[OrderCompletedIn | None, Body()] = None,
) -> Response:
    def handle(conn: Connection, natural: str) -> Answer:
        return integration.completed(
            conn, caller, tenant_id, external_order_id, request_hash=natural, now=utc_now()
        )

    payload = payload or OrderCompletedIn()
    return _push(request, db, tenant_id, caller, key, payload, "completed", handle)


@router.post(
    "/orders/{external_order_id}/refunded",
    response_model=IntegrationOrderOut,
    summary="The shop refunded its order: from escrow before booking; after, only as an "
    "admin's adjustment (admins)",
    responses=_ERRORS,
)
def order_refunded(
    tenant_id: TenantId,
    external_order_id: OrderId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[OrderRefundedIn | None, Body()] = None,
) -> Response:
    body = payload or OrderRefundedIn()

    def handle(conn: Connection, natural: str) -> Answer:
        return integration.refunded(
            conn,
            caller,
            tenant_id,
            external_order_id,
            amount=body.amount,
            adjustment=body.adjustment,
            request_hash=natural,
            now=utc_now(),
        )

    return _push(request, db, tenant_id, caller, key, body, "refunded", handle)


@router.get(
    "/orders/{external_order_id}",
    response_model=IntegrationOrderOut,
    summary="An integrated order's state and rewards (admins)",
    responses=responses(*COMMON, 403),
)
def get_order(
    tenant_id: TenantId, external_order_id: OrderId, caller: Caller, db: Db
) -> IntegrationOrderOut:
    with db.read() as conn:
        view = integration.get_order(conn, caller, tenant_id, external_order_id)
    return IntegrationOrderOut.model_validate(view)
