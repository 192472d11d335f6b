"""Alipay's asynchronous notifies (异步通知).

Alipay posts a trade's change as a form (``application/x-www-form-urlencoded``) to
``/api/v1/payments/webhooks/alipay/{tenant_id}``, the ``notify_url`` the tenant's gateway gives
it. The SDK checks the RSA2 signature with Alipay's public key (or, during a rotation, the
replaced one); the mall applies the payment's outcome once. The answer is the plain text
Alipay expects: ``success`` when taken, or when there is nothing more to do (a replay, a
refund's notify, a trade still open), so Alipay stops; ``failure`` otherwise, with the
refusal's status, so a notify refused for a passing fault is sent again and a forged or
mismatched one is recorded, logged and never applied.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Depends, Request, Response
from starlette.concurrency import run_in_threadpool

from tokenmall.bootstrap import ALIPAY, AlipayChannel, alipay_answer
from tokenmall.domain.errors import DomainError
from tokenmall.domain.mall.gateway import CallbackRefused
from tokenmall.services.mall import paid_callbacks
from tokenmall.services.mall import payment_channels as channels
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.web.api.common import TenantId
from tokenmall.web.api.payment_channels import public_base, registry_of
from tokenmall.web.callback_gate import callback_gate
from tokenmall.web.deps import single_query_values
from tokenmall.web.errors import status_of

log = logging.getLogger("tokenmall.payments")

router = APIRouter(tags=["payments"], dependencies=[Depends(single_query_values)])
WEBHOOK = "/api/v1/payments/webhooks/alipay/{tenant_id}"
# ``failure`` to Alipay; a request the route cannot even read (a malformed tenant id) is
# refused before it, as every route refuses one, with the JSON error.
_TEXT = {
    "content": {
        "text/plain": {"schema": {"type": "string", "enum": ["failure"]}},
        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}},
    }
}
_ANSWERS: dict[int | str, dict[str, object]] = {
    200: {
        "description": "success: taken (or nothing more to do: a replay changes nothing)",
        "content": {"text/plain": {"schema": {"type": "string", "enum": ["success"]}}},
    },
    400: {"description": "failure: not a form Alipay sends", **_TEXT},
    401: {"description": "failure: a signature that does not verify", **_TEXT},
    403: {"description": "failure: for another app, seller or tenant", **_TEXT},
    404: {"description": "failure: no Alipay channel for this tenant, or no such payment", **_TEXT},
    409: {"description": "failure: could not be applied now (Alipay retries)", **_TEXT},
    422: {"description": "failure: an amount that differs from the order's", **_TEXT},
}


def _answer(reason: str | None, status: int = 200) -> Response:
    body = alipay_answer(reason)
    return Response(
        body, status_code=200 if body == b"success" else status, media_type="text/plain"
    )


def _gateway(request: Request, tenant_id: str) -> AlipayChannel | DomainError:
    db: Database = request.app.state.database
    try:
        with db.reading() as uow:
            found = channels.gateway_of(
                uow,
                tenant_id,
                ALIPAY,
                registry_of(request),
                public_base(request),
                utc_now(),
                for_callbacks=True,
            )
    except DomainError as exc:
        return exc
    assert isinstance(found, AlipayChannel)
    return found


@router.post(
    WEBHOOK,
    summary="Alipay's notifies (form body, RSA2 signature checked by the SDK); answered with "
    "the plain text success or failure",
    description="Called by Alipay, not by integrators; see docs/payments.md.",
    responses=_ANSWERS,
    response_class=Response,
)
async def alipay_notify(tenant_id: TenantId, request: Request) -> Response:
    raw = await request.body()
    gateway = await run_in_threadpool(_gateway, request, tenant_id)
    if isinstance(gateway, DomainError):
        return _answer("no_channel", status_of(gateway))
    db: Database = request.app.state.database
    try:
        async with callback_gate():
            await run_in_threadpool(paid_callbacks.handle_callback, db, gateway, {}, raw, utc_now())
    except CallbackRefused as exc:
        log.log(
            logging.INFO if alipay_answer(exc.reason) == b"success" else logging.WARNING,
            "alipay notify refused",
            extra={"fields": {"gateway": ALIPAY, "tenant_id": tenant_id, "reason": exc.reason}},
        )
        return _answer(exc.reason, status_of(exc))
    except DomainError as exc:
        return _answer("refused", status_of(exc))
    return _answer(None)
