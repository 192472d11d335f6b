"""Outgoing webhooks: endpoints (admins register them), the events and their deliveries."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, Response, status
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import webhook_delivery as hooks
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web import idempotent
from tokenmall.web.api.common import After, Limit, ResourceId, TenantId, next_after, write
from tokenmall.web.api.schemas_integration import (
    DeliveryOut,
    DeliveryPage,
    EventOut,
    EventPage,
    EventType,
    WebhookEndpointCreatedOut,
    WebhookEndpointIn,
    WebhookEndpointOut,
    WebhookEndpointPage,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, settings, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}",
    tags=["webhooks"],
    dependencies=[Depends(single_query_values)],
)
_READ = responses(*COMMON, 403)
_WRITE = responses(*COMMON, 403, 409)


def _shown_once(code: int, shown: hooks.NewSecret) -> idempotent.Outcome:
    """The endpoint with its signing secret; replays answer without it (shown once)."""
    out = WebhookEndpointOut.of(shown.endpoint)
    return (
        code,
        WebhookEndpointCreatedOut(endpoint=out, secret=shown.secret),
        WebhookEndpointCreatedOut(endpoint=out, secret=None),
    )


@router.post(
    "/webhook-endpoints",
    status_code=status.HTTP_201_CREATED,
    response_model=WebhookEndpointCreatedOut,
    summary="Register a webhook endpoint; its signing secret is shown once (admins)",
    responses=_WRITE,
)
def create_endpoint(
    tenant_id: TenantId,
    payload: WebhookEndpointIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def action(conn: Connection) -> idempotent.Outcome:
        shown = hooks.create_endpoint(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            url=payload.url,
            event_types=list(payload.event_types),
            description=payload.description,
            now=utc_now(),
            secret_key=settings(request).secret_key.get_secret_value(),
        )
        return _shown_once(201, shown)

    return idempotent.run(
        request, db, tenant_id=tenant_id, caller=caller, key=key, payload=payload, action=action
    )


@router.get(
    "/webhook-endpoints",
    response_model=WebhookEndpointPage,
    summary="List the webhook endpoints (admins)",
    responses=_READ,
)
def list_endpoints(
    tenant_id: TenantId, caller: Caller, db: Db, after: After = None, limit: Limit = 50
) -> WebhookEndpointPage:
    with db.reading() as uow:
        found = hooks.list_endpoints(uow, caller, tenant_id, after, limit)
    return WebhookEndpointPage(
        items=[WebhookEndpointOut.of(e) for e in found],
        next_after=next_after([e.endpoint_id for e in found], limit),
    )


@router.get(
    "/webhook-endpoints/{endpoint_id}",
    response_model=WebhookEndpointOut,
    summary="One webhook endpoint (admins)",
    responses=_READ,
)
def get_endpoint(
    tenant_id: TenantId, endpoint_id: ResourceId, caller: Caller, db: Db
) -> WebhookEndpointOut:
    with db.reading() as uow:
        return WebhookEndpointOut.of(hooks.get_endpoint(uow, caller, tenant_id, endpoint_id))


@router.delete(
    "/webhook-endpoints/{endpoint_id}",
    response_model=WebhookEndpointOut,
    summary="Delete a webhook endpoint; its pending deliveries fail (admins)",
    responses=_WRITE,
)
def delete_endpoint(
    tenant_id: TenantId,
    endpoint_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        now = utc_now()
        found = hooks.delete_endpoint(
            MallUnitOfWork.joining(conn), caller, tenant_id, endpoint_id, now
        )
        return WebhookEndpointOut.of(found).model_copy(update={"deleted_at": now})

    return write(request, db, caller, tenant_id, key, None, make)


@router.post(
    "/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=WebhookEndpointCreatedOut,
    summary="A new signing secret for the endpoint, shown once; the old one stops (admins)",
    responses=_WRITE,
)
def rotate_secret(
    tenant_id: TenantId,
    endpoint_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def action(conn: Connection) -> idempotent.Outcome:
        shown = hooks.rotate_secret(
            MallUnitOfWork.joining(conn),
            caller,
            tenant_id,
            endpoint_id,
            secret_key=settings(request).secret_key.get_secret_value(),
        )
        return _shown_once(200, shown)

    return idempotent.run(
        request, db, tenant_id=tenant_id, caller=caller, key=key, payload=None, action=action
    )


@router.get(
    "/webhook-deliveries",
    response_model=DeliveryPage,
    summary="Deliveries of events to endpoints, with their attempts (admins)",
    responses=_READ,
)
def list_deliveries(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    status_: Annotated[
        Literal["pending", "delivered", "failed"] | None, Query(alias="status")
    ] = None,
    endpoint_id: Annotated[str | None, Query(max_length=40)] = None,
    event_id: Annotated[str | None, Query(max_length=40)] = None,
    after: After = None,
    limit: Limit = 50,
) -> DeliveryPage:
    with db.reading() as uow:
        found = hooks.list_deliveries(
            uow,
            caller,
            tenant_id,
            status=status_,
            endpoint_id=endpoint_id,
            event_id=event_id,
            after=after,
            limit=limit,
        )
    return DeliveryPage(
        items=[DeliveryOut.of(log.delivery, log.attempts) for log in found],
        next_after=next_after([log.delivery.delivery_id for log in found], limit),
    )


@router.get(
    "/webhook-deliveries/{delivery_id}",
    response_model=DeliveryOut,
    summary="One delivery with its attempts (admins)",
    responses=_READ,
)
def get_delivery(
    tenant_id: TenantId, delivery_id: ResourceId, caller: Caller, db: Db
) -> DeliveryOut:
    with db.reading() as uow:
        log = hooks.get_delivery(uow, caller, tenant_id, delivery_id)
    return DeliveryOut.of(log.delivery, log.attempts)


@router.post(
    "/webhook-deliveries/{delivery_id}/redeliver",
    response_model=DeliveryOut,
    summary="Deliver again now, with a fresh budget of attempts (admins)",
    responses=_WRITE,
)
def redeliver(
    tenant_id: TenantId,
    delivery_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    def make(conn: Connection) -> BaseModel:
        log = hooks.redeliver(
            MallUnitOfWork.joining(conn), caller, tenant_id, delivery_id, utc_now()
        )
        return DeliveryOut.of(log.delivery, log.attempts)

    return write(request, db, caller, tenant_id, key, None, make)


@router.get(
    "/events",
    response_model=EventPage,
    summary="The tenant's outgoing events, newest last (admins)",
    responses=_READ,
)
def list_events(
    tenant_id: TenantId,
    caller: Caller,
    db: Db,
    event_type: Annotated[EventType | None, Query(alias="type")] = None,
    after: After = None,
    limit: Limit = 50,
) -> EventPage:
    with db.reading() as uow:
        found = hooks.list_events(uow, caller, tenant_id, event_type, after, limit)
    return EventPage(
        items=[
            EventOut(
                event_id=e.event_id, event_type=e.event_type, created_at=e.created_at, data=e.data
            )
            for e in found
        ],
        next_after=next_after([e.event_id for e in found], limit),
    )
