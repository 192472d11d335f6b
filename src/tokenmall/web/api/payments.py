"""Payments: start or read a payment, the gateways' webhooks, and the sandbox's payment page.

The sandbox page (``/sandbox/pay/{ref}``, drawn by ``adapters/payments/sandbox_page.py``) plays
the gateway's part and is not in the OpenAPI: plain HTML forms (no JavaScript) with Approve and
Fail. Pressing one makes the sandbox sign its event exactly as a real gateway signs a webhook
and deliver it in-process to the same handling as ``POST /api/v1/payments/webhooks/sandbox``
(or, if the operator configured ``sandbox_webhook_url``, over HTTP to that URL). No address is
ever taken from the request's headers for a request the server makes.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Annotated, Literal
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from tokenmall.bootstrap import (
    SandboxGateway,
    parse_sandbox_ref,
    payment_gateway,
    record_sandbox_approval,
    sandbox_delivery,
    sandbox_page,
)
from tokenmall.domain.mall.gateway import CallbackRefused, EventType
from tokenmall.services.mall import paid_callbacks, payments
from tokenmall.services.mall.gateway import Gateway
from tokenmall.services.mall.uow import Database, MallUnitOfWork, utc_now
from tokenmall.services.market import deposits
from tokenmall.services.nfg import drop_money
from tokenmall.web import idempotent
from tokenmall.web.api.common import ResourceId, TenantId
from tokenmall.web.api.payment_channels import order_gateway
from tokenmall.web.api.schemas_orders import CallbackOut, PaymentDetailOut, PaymentOut, WebhookOut
from tokenmall.web.callback_gate import callback_gate
from tokenmall.web.deps import Caller, Db, IdempotencyKey, settings, single_query_values
from tokenmall.web.errors import COMMON, body, responses, status_of

log = logging.getLogger("tokenmall.payments")

router = APIRouter(tags=["payments"], dependencies=[Depends(single_query_values)])
TENANT = "/api/v1/tenants/{tenant_id}"
WEBHOOK_PATH = "/api/v1/payments/webhooks/sandbox"


def gateway_for(request: Request) -> Gateway:
    """The configured gateway: the sandbox (the default), on this server's own address; with
    ``sandbox_gateway`` off, ``NoGateway`` (money payments refused) until a real one plugs in."""
    configured = settings(request)
    return payment_gateway(
        configured.sandbox_gateway,
        configured.secret_key.get_secret_value(),
        str(request.base_url),
    )


def sandbox_enabled(request: Request) -> bool:
    return settings(request).sandbox_gateway


@router.post(
    TENANT + "/orders/{order_id}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentOut,
    summary="The payment to make for an unpaid order: its open one (200), else a new one (201); "
    "through the chosen channel (one the tenant switched on), else the tenant's default",
    responses={**responses(*COMMON, 403, 409), 200: {"model": PaymentOut}},
)
def start_payment(
    tenant_id: TenantId,
    order_id: ResourceId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    channel: Annotated[
        Literal["sandbox", "wechat", "alipay"] | None,
        Query(description="The payment channel (GET /payment-channels says which are on)"),
    ] = None,
) -> Response:
    def action(conn: Connection) -> idempotent.Outcome:
        uow = MallUnitOfWork.joining(conn)
        gateway = order_gateway(request, tenant_id, channel, uow)
        payment, new = payments.start_payment(uow, caller, tenant_id, order_id, gateway, utc_now())
        return (201 if new else 200), PaymentOut.of(payment), None

    return idempotent.run(
        request, db, tenant_id=tenant_id, caller=caller, key=key, payload=None, action=action
    )


@router.get(
    TENANT + "/payments/{payment_id}",
    response_model=PaymentDetailOut,
    summary="A payment and the gateway callbacks received for it (whoever may see its order)",
    responses=responses(*COMMON, 403),
)
def get_payment(
    tenant_id: TenantId, payment_id: ResourceId, caller: Caller, db: Db
) -> PaymentDetailOut:
    with db.reading() as uow:
        payment, callbacks = payments.get_payment(uow, caller, tenant_id, payment_id)
    return PaymentDetailOut(
        **PaymentOut.of(payment).model_dump(),
        callbacks=[CallbackOut.of(c) for c in callbacks],
    )


_EVENT_SCHEMA = {
    "type": "object",
    "required": ["event_id", "type", "payment_ref", "amount"],
    "properties": {
        "event_id": {"type": "string", "maxLength": 100},
        "type": {"type": "string", "enum": ["payment.succeeded", "payment.failed"]},
        "payment_ref": {"type": "string", "description": "<tenant_id>.<payment_id>"},
        "amount": {"type": "string", "examples": ["100.00"]},
        "created_at": {"type": "string", "format": "date-time"},
        "reason": {"type": "string", "description": "Why a payment failed"},
    },
}


@router.post(
    WEBHOOK_PATH,
    response_model=WebhookOut,
    summary="The sandbox gateway's signed payment events (HMAC-SHA256 over timestamp.body)",
    description="Called by the sandbox gateway, not by integrators. Refused: missing headers "
    "(400), a signature that does not match (401), a timestamp more than 5 minutes off either "
    "way (401), a replayed event id (409). See docs/orders-and-payments.md.",
    responses=responses(400, 401, 404, 409, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": _EVENT_SCHEMA}},
        }
    },
)
async def sandbox_webhook(
    request: Request,
    x_sandbox_timestamp: Annotated[
        str | None, Header(description="Unix seconds; at most 5 minutes off")
    ] = None,
    x_sandbox_signature: Annotated[
        str | None, Header(description='"v1=" and the hex HMAC-SHA256 of "<timestamp>.<body>"')
    ] = None,
) -> Response:
    if not sandbox_enabled(request):
        return JSONResponse(body("not_found", "no such endpoint"), status_code=404)
    raw = await request.body()
    headers = {
        "X-Sandbox-Timestamp": x_sandbox_timestamp or "",
        "X-Sandbox-Signature": x_sandbox_signature or "",
    }
    db: Database = request.app.state.database
    gateway = gateway_for(request)
    try:
        async with callback_gate():
            deposit = await run_in_threadpool(
                deposits.handle_callback, db, gateway, headers, raw, utc_now()
            )
            if deposit is not None:
                return JSONResponse(deposit.to_json())
            result = await run_in_threadpool(
                drop_money.handle_callback,
                db,
                gateway,
                request.app.state.log_config,
                headers,
                raw,
                utc_now(),
            )
    except CallbackRefused as exc:
        return JSONResponse(body(exc.reason, str(exc)), status_code=status_of(exc))
    if isinstance(result, drop_money.DropCallbackResult):
        return JSONResponse(result.to_json())
    out = WebhookOut(
        event_id=result.event_id,
        payment_id=result.payment_id,
        payment_status=result.payment_status,  # type: ignore[arg-type]
        order_id=result.order_id,
        order_status=result.order_status,  # type: ignore[arg-type]
        outcome=result.outcome,
    )
    return JSONResponse(out.model_dump(mode="json"))


# --- the sandbox's payment page (the gateway's side; not part of the API) ---------------------


STYLESHEET = "/-/static/app.css"  # the mall's own (web/pages/rendering.py's STATIC_PREFIX)


def _lang(request: Request) -> str:
    """The sandbox page's language: Chinese unless ``?lang=en`` (or the pages' cookie) asks."""
    asked = request.query_params.get("lang") or request.cookies.get("tokenmall_lang") or ""
    return "en" if asked.lower().startswith("en") else "zh"


def _page(request: Request, title: str, inner: str, code: int = 200) -> HTMLResponse:
    body = sandbox_page.page(
        title, inner, lang=_lang(request), stylesheet=STYLESHEET, path=request.url.path
    )
    return HTMLResponse(body, status_code=code, headers=sandbox_page.HEADERS)


def _said(request: Request, key: str) -> str:
    return sandbox_page.message_page(_lang(request), key)


def _message(request: Request, event: str, code: int, detail: str) -> str:
    lang = _lang(request)
    if code == 200:
        return sandbox_page.notified(event, lang)
    return sandbox_page.not_taken(code, detail, lang)


def _state(db: Database, ref: str) -> payments.PageState | None:
    parsed = parse_sandbox_ref(ref)
    if parsed is None:
        return None
    with db.reading_one() as uow:
        return payments.page_state(uow, parsed[0], parsed[1], ref)


def _describe(request: Request, state: payments.PageState, ref: str, message: str = "") -> str:
    return sandbox_page.describe(state.payment, state.payable, ref, message, _lang(request))


@router.get("/sandbox/pay/{ref}", include_in_schema=False)
def sandbox_payment_page(ref: str, request: Request) -> HTMLResponse:
    if not sandbox_enabled(request):
        return _page(request, "Not found", _said(request, "no_page"), 404)
    state = _state(request.app.state.database, ref)
    if state is None:
        drop_state = _drop_state(request.app.state.database, ref)
        if drop_state is not None:
            return _page(request, "Pay", _describe_drop(request, drop_state, ref))
        found = _deposit(request.app.state.database, ref)
        if found is not None:
            return _page(request, "Pay", _describe_deposit(request, found, ref))
        return _page(request, "Not found", _said(request, "no_payment"), 404)
    return _page(request, "Pay", _describe(request, state, ref))


def _deliver(
    request: Request,
    gateway: SandboxGateway,
    body_: bytes,
    headers: dict[str, str],
    *,
    an_order: bool = False,
) -> tuple[int, str, payments.CallbackResult | None]:
    """Hand the signed event to the shop: (the status it answered, why if it refused, and an
    order's callback result when handled in-process).

    In-process by default, through the webhook's own handling (the signature is checked there
    as for any webhook); over HTTP only to the operator's ``sandbox_webhook_url``. ``an_order``:
    the page found the reference among the orders' payments, so the event goes straight to
    the orders' handling (a deposit's or a drop's payment is never one of them)."""
    url = settings(request).sandbox_webhook_url
    if url:
        code, text = sandbox_delivery.post(url, body_, headers)
        if code == 200:
            return code, "", None
        try:
            return code, str(json.loads(text)["error"]["message"]), None
        except (ValueError, KeyError, TypeError):
            return code, text[:200], None
    db: Database = request.app.state.database
    try:
        if an_order:
            return 200, "", paid_callbacks.handle_callback(db, gateway, headers, body_, utc_now())
        if deposits.handle_callback(db, gateway, headers, body_, utc_now()) is None:
            drop_money.handle_callback(
                db, gateway, request.app.state.log_config, headers, body_, utc_now()
            )
    except CallbackRefused as exc:
        return status_of(exc), str(exc), None
    return 200, "", None


def _states(
    db: Database, ref: str, approved_at: datetime | None = None
) -> tuple[payments.PageState | None, drop_money.PageState | None]:
    """An order's payment of ``ref``, else a reservation's, on one connection (each read its
    own snapshot on PostgreSQL: what can be paid is decided again under the order's lock).
    ``approved_at``: the page's Approve, which the sandbox keeps for its bill in the order's
    payment's read when that payment is payable (a reservation's is kept by the caller)."""
    parsed = parse_sandbox_ref(ref)
    if parsed is None:
        return None, None
    with db.reading_one() if approved_at is None else db.writing_one() as uow:
        found = payments.page_state(uow, parsed[0], parsed[1], ref, approved_at=approved_at)
        if found is not None:
            return found, None
        return None, drop_money.page_state_in(uow, parsed[0], parsed[1])


def _submit(request: Request, ref: str, outcome: Literal["approve", "fail"]) -> HTMLResponse:
    db: Database = request.app.state.database
    now = utc_now()
    state, drop_state = _states(db, ref, now if outcome == "approve" else None)
    if state is None:
        return _submit_drop(request, ref, outcome, drop_state)
    if not state.payable:
        return _page(request, "Closed", _describe(request, state, ref), 409)
    gateway = gateway_for(request)
    assert isinstance(gateway, SandboxGateway)
    event: EventType = "payment.succeeded" if outcome == "approve" else "payment.failed"
    data = gateway.event_body(
        provider_ref=ref, outcome=event, amount_fen=state.payment.amount_fen, now=now
    )
    code, detail, result = _deliver(
        request, gateway, data, gateway.signed_headers(data, now), an_order=True
    )
    log.info(
        "sandbox webhook sent",
        extra={"fields": {"ref": ref, "type": event, "status": code}},
    )
    if result is not None and result.payment is not None and result.order is not None:
        # As its transaction left them.
        after = payments.PageState(result.payment, result.order.status)
    else:
        after = _state(db, ref) or state
    message = _message(request, event, code, detail)
    return _page(
        request, "Pay", _describe(request, after, ref, message), 200 if code == 200 else 502
    )


def _drop_state(db: Database, ref: str) -> drop_money.PageState | None:
    parsed = parse_sandbox_ref(ref)
    return None if parsed is None else drop_money.page_state(db, parsed[0], parsed[1])


def _describe_drop(
    request: Request, state: drop_money.PageState, ref: str, message: str = ""
) -> str:
    r = state.reservation
    return sandbox_page.describe_reservation(
        r.tenant_id,
        r.reservation_id,
        r.amount,
        drop_money.payment_status(r),
        state.payable,
        ref,
        message,
        _lang(request),
    )


def _submit_drop(
    request: Request,
    ref: str,
    outcome: Literal["approve", "fail"],
    state: drop_money.PageState | None,
) -> HTMLResponse:
    """The sandbox page's Approve or Fail for a drop reservation's payment (``state``: its
    reservation as the page found it, None: not a reservation's)."""
    db: Database = request.app.state.database
    if state is None:
        return _submit_deposit(request, ref, outcome)
    if not state.payable:
        return _page(request, "Closed", _describe_drop(request, state, ref), 409)
    gateway = gateway_for(request)
    assert isinstance(gateway, SandboxGateway)
    now = utc_now()
    event: EventType = "payment.succeeded" if outcome == "approve" else "payment.failed"
    if outcome == "approve":
        record_sandbox_approval(db, ref, state.reservation.amount, now)
    data = gateway.event_body(
        provider_ref=ref, outcome=event, amount_fen=state.reservation.amount, now=now
    )
    headers = gateway.signed_headers(data, now)
    after: drop_money.PageState | None = None
    if settings(request).sandbox_webhook_url:
        code, detail, _ = _deliver(request, gateway, data, headers)
    else:
        # In-process, straight to the drop's handling: the page found the reservation.
        code, detail = 200, ""
        try:
            done = drop_money.handle_reservation_callback(
                db, gateway, request.app.state.log_config, headers, data, utc_now()
            )
        except CallbackRefused as exc:
            code, detail = status_of(exc), str(exc)
        else:
            if isinstance(done, drop_money.DropCallbackResult) and done.reservation is not None:
                after = drop_money.PageState(done.reservation)  # as its transaction left it
    after = after or _drop_state(db, ref) or state
    message = _message(request, event, code, detail)
    return _page(
        request, "Pay", _describe_drop(request, after, ref, message), 200 if code == 200 else 502
    )


def _deposit(db: Database, ref: str) -> deposits.DepositRow | None:
    parsed = parse_sandbox_ref(ref)
    return None if parsed is None else deposits.of_payment(db, parsed[0], parsed[1])


def _describe_deposit(request: Request, d: deposits.DepositRow, ref: str, message: str = "") -> str:
    return sandbox_page.describe_deposit(
        d.tenant_id, d.deposit_id, d.amount, d.status == "paid", ref, message, _lang(request)
    )


def _submit_deposit(
    request: Request, ref: str, outcome: Literal["approve", "fail"]
) -> HTMLResponse:
    """The sandbox page's Approve or Fail for a deposit of market cash."""
    db: Database = request.app.state.database
    found = _deposit(db, ref)
    if found is None:
        return _page(request, "Not found", _said(request, "no_payment"), 404)
    if found.status == "paid":
        return _page(request, "Closed", _describe_deposit(request, found, ref), 409)
    gateway = gateway_for(request)
    assert isinstance(gateway, SandboxGateway)
    now = utc_now()
    event: EventType = "payment.succeeded" if outcome == "approve" else "payment.failed"
    data = gateway.event_body(provider_ref=ref, outcome=event, amount_fen=found.amount, now=now)
    code, detail, _ = _deliver(request, gateway, data, gateway.signed_headers(data, now))
    after = _deposit(db, ref) or found
    message = _message(request, event, code, detail)
    return _page(
        request, "Pay", _describe_deposit(request, after, ref, message), 200 if code == 200 else 502
    )


@router.post("/sandbox/pay/{ref}", include_in_schema=False)
async def sandbox_submit(ref: str, request: Request) -> HTMLResponse:
    if not sandbox_enabled(request):
        return _page(request, "Not found", _said(request, "no_page"), 404)
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    outcome = (form.get("outcome") or [""])[0]
    if outcome not in ("approve", "fail"):
        return _page(request, "Bad request", _said(request, "choose"), 400)
    chosen: Literal["approve", "fail"] = "approve" if outcome == "approve" else "fail"
    async with callback_gate():  # it delivers the gateway's callback in-process
        return await run_in_threadpool(_submit, request, ref, chosen)
