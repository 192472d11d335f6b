"""WeChat Pay's callbacks, and asking a payment's channel how it stands (query-on-return).

WeChat Pay posts a payment's and a refund's outcome to ``/api/v1/payments/webhooks/wechat/
{tenant_id}`` (and ``…/refunds``), the ``notify_url`` the tenant's gateway gives it. The SDK
verifies the signature and decrypts the resource with the tenant's keys (or, during a
rotation, the replaced ones). The answer is what WeChat Pay expects: 204 when taken (or taken
before: a replay changes nothing and stops the retries); otherwise a 4xx or 5xx with
``{"code", "message"}``, which WeChat Pay retries, so a refusal of ours caused by a passing
fault is tried again and a forged or mismatched one is recorded, logged and never applied.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from tokenmall.bootstrap import WECHAT, WechatGateway
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.gateway import CallbackRefused
from tokenmall.services.mall import channel_sync, paid_callbacks, refund_channel
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.web import idempotent
from tokenmall.web.api.common import ResourceId, TenantId
from tokenmall.web.api.payment_channels import order_gateway, public_base, registry_of
from tokenmall.web.api.schemas_orders import PaymentOut
from tokenmall.web.callback_gate import callback_gate
from tokenmall.web.deps import Caller, Db, IdempotencyKey, single_query_values
from tokenmall.web.errors import COMMON, responses, status_of
from tokenmall.web.logs import request_id_var

log = logging.getLogger("tokenmall.payments")

router = APIRouter(tags=["payments"], dependencies=[Depends(single_query_values)])
WEBHOOK = "/api/v1/payments/webhooks/wechat/{tenant_id}"

_ANSWERS: dict[int | str, dict[str, Any]] = {
    204: {"description": "Taken (or taken before: a replay changes nothing)"},
    **{
        code: {
            "description": text,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"code": {"type": "string"}, "message": {"type": "string"}},
                    }
                }
            },
        }
        for code, text in (
            (400, "Missing Wechatpay-* headers or a malformed body"),
            (401, "A signature that does not verify, or a stale timestamp"),
            (404, "No WeChat Pay channel for this tenant, or no such payment"),
            (409, "Could not be applied now (WeChat Pay retries)"),
            (422, "An amount or currency that differs from the order's"),
        )
    },
}


def _refusal(exc: DomainError, reason: str) -> JSONResponse:
    return JSONResponse(
        {"code": reason.upper(), "message": str(exc)[:200]}, status_code=status_of(exc)
    )


def _gateway(request: Request, tenant_id: str) -> WechatGateway | JSONResponse:
    db: Database = request.app.state.database
    try:
        with db.reading() as uow:
            found = channels.gateway_of(
                uow,
                tenant_id,
                WECHAT,
                registry_of(request),
                public_base(request),
                utc_now(),
                for_callbacks=True,
            )
    except DomainError as exc:
        return _refusal(exc, "not_found")
    assert isinstance(found, WechatGateway)
    return found


def _headers(request: Request) -> dict[str, str]:
    return {k: v for k, v in request.headers.items() if k.lower().startswith("wechatpay-")}


@router.post(
    WEBHOOK,
    status_code=204,
    summary="WeChat Pay's payment callbacks (signature verified, resource decrypted by the SDK)",
    description="Called by WeChat Pay, not by integrators; see docs/payments.md.",
    responses=_ANSWERS,
)
async def wechat_webhook(tenant_id: TenantId, request: Request) -> Response:
    raw = await request.body()
    gateway = await run_in_threadpool(_gateway, request, tenant_id)
    if isinstance(gateway, JSONResponse):
        return gateway
    db: Database = request.app.state.database
    try:
        async with callback_gate():
            await run_in_threadpool(
                paid_callbacks.handle_callback, db, gateway, _headers(request), raw, utc_now()
            )
    except CallbackRefused as exc:
        if exc.reason == "replayed":
            return Response(status_code=204)
        return _refusal(exc, exc.reason)
    return Response(status_code=204)


@router.post(
    WEBHOOK + "/refunds",
    status_code=204,
    summary="WeChat Pay's refund callbacks (REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED)",
    description="Called by WeChat Pay, not by integrators; see docs/payments.md.",
    responses=_ANSWERS,
)
async def wechat_refund_webhook(tenant_id: TenantId, request: Request) -> Response:
    raw = await request.body()
    gateway = await run_in_threadpool(_gateway, request, tenant_id)
    if isinstance(gateway, JSONResponse):
        return gateway
    try:
        notice = gateway.verify_refund_callback(_headers(request), raw, utc_now())
    except CallbackRefused as exc:
        log.warning(
            "refund callback refused",
            extra={"fields": {"gateway": WECHAT, "tenant_id": tenant_id, "reason": exc.reason}},
        )
        return _refusal(exc, exc.reason)
    level = logging.INFO if notice.status == "succeeded" else logging.WARNING
    log.log(
        level,
        "refund callback",
        extra={
            "fields": {
                "gateway": WECHAT,
                "tenant_id": tenant_id,
                "refund_id": notice.refund_id,
                "provider_ref": notice.provider_ref,
                "status": notice.status,
                "amount_fen": notice.amount_fen,
                "request_id": request_id_var.get(),
            }
        },
    )
    db: Database = request.app.state.database

    def finish() -> None:
        with db.unit() as uow:
            refund_channel.apply_refund_notice(
                uow,
                tenant_id,
                refund_no=notice.refund_id,
                provider_ref=notice.provider_ref,
                status=notice.status,
                amount_fen=notice.amount_fen,
                now=utc_now(),
            )

    try:
        await run_in_threadpool(finish)
    except CallbackRefused as exc:
        log.warning(
            "refund callback refused",
            extra={"fields": {"gateway": WECHAT, "tenant_id": tenant_id, "reason": exc.reason}},
        )
        return _refusal(exc, exc.reason)
    return Response(status_code=204)


@router.post(
    "/api/v1/tenants/{tenant_id}/payments/{payment_id}/query",
    response_model=PaymentOut,
    summary="Ask the payment's channel how it stands (the payer came back before the "
    "callback) and apply what it says; the payment after",
    responses=responses(*COMMON, 403, 409),
)
def query_payment(
    tenant_id: TenantId,
    payment_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    gateway = order_gateway(request, tenant_id)
    try:
        payment = channel_sync.sync_payment(db, caller, tenant_id, payment_id, gateway, utc_now())
    except CallbackRefused as exc:
        return JSONResponse(
            {"error": {"code": exc.reason, "message": str(exc), "field": None}},
            status_code=status_of(exc),
        )
    return idempotent.run(
        request,
        db,
        tenant_id=tenant_id,
        caller=caller,
        key=key,
        payload=None,
        action=lambda conn: (200, PaymentOut.of(payment), None),
    )
