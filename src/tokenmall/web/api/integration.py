"""The integration API: an existing shop pushes its orders' paid/completed/refunded events.

Server to server, with an admin's API key (``tmk.…``). Each event is idempotent twice over:
by the ``Idempotency-Key`` header like every write, and by (order, event) — the same event
pushed again, whatever its key, answers the first result (``Idempotency-Replayed: true``).
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from functools import partial
from typing import Annotated, Protocol

from fastapi import APIRouter, Body, Depends, Request, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.exc import IntegrityError

from tokenmall.domain.errors import DomainError
from tokenmall.services.mall import access, auth, idempotency, integration, integration_closing
from tokenmall.services.mall import integration_batch as batch
from tokenmall.services.mall import integration_pushes as pushes
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Unauthenticated
from tokenmall.services.mall.integration import Answer, ExternalUserIn
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.services.unit_of_work import UnitOfWork
from tokenmall.services.writers.units import writers_for
from tokenmall.web import deps, errors, idempotent
from tokenmall.web.api.common import TenantId
from tokenmall.web.api.schemas_integration import (
    VIEWS,
    BatchPaidIn,
    BatchPaidOut,
    ExternalId,
    IntegrationOrderOut,
    OrderCompletedIn,
    OrderPaidIn,
    OrderRefundedIn,
)
from tokenmall.web.deps import Caller, Db, IdempotencyKey, settings, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/integration",
    tags=["integration"],
    dependencies=[Depends(single_query_values)],
)

OrderId = Annotated[str, ExternalId]
PUSH_TIMEOUT_SECONDS = 60  # a single push waits at most this long for its group's commit
_ERRORS = responses(*COMMON, 403, 409)


async def _token(
    request: Request,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(deps._bearer)],
) -> str | None:
    """The caller's token, read without the database: the integration routes authenticate
    inside their one write transaction (one transaction a request, not a read and a write)."""
    if request.headers.get("authorization") and bearer is None:
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return bearer.credentials if bearer is not None else request.cookies.get(deps.SESSION_COOKIE)


Token = Annotated[str | None, Depends(_token)]


class UseCase(Protocol):
    """An event's use case with its arguments bound (``functools.partial``): what is left
    is the unit of work, the caller, the event's natural hash and the clock."""

    def __call__(
        self, uow: UnitOfWork, caller: Principal, *, request_hash: str, now: datetime
    ) -> Answer: ...


def _push(
    request: Request,
    db: Db,
    tenant_id: str,
    token: str | None,
    key: str,
    payload: OrderPaidIn | OrderCompletedIn | OrderRefundedIn | None,
    event: str,
    use_case: UseCase,
    caps: list[tuple[str, str]] | None = None,
) -> Response:
    """Run one event in one unit of work (``run_once``): authenticate, answer a stored
    Idempotency-Key, else run the use case (which answers a stored (order, event) itself)
    and store the answer under the key — the use case may store it among its own last
    writes (``uow.answer``; ``paid`` sends it in the pipeline of its journals), else it is
    stored after. A race of two identical pushes (on the key, the journals or the order)
    retries once and answers the first one's result. ``caps``: the orders ((id, amount)
    each) checked against the tenant's integration caps first, in the same transaction; a
    refusal's alert is committed after it rolls back."""
    if token is None:
        raise Unauthenticated("this endpoint needs a bearer token, session cookie or API key")
    body = None if payload is None else payload.model_dump(mode="json")
    request_hash = idempotency.request_hash(request.method, request.url.path, body)
    natural = idempotency.request_hash(event, request.url.path, body)

    def act(attempt: idempotency.Attempt) -> idempotency.Done:
        assert attempt.caller is not None
        if caps is not None:
            access.within_caps(attempt.uow, attempt.caller, tenant_id, caps, attempt.now)
        answer = use_case(attempt.uow, attempt.caller, request_hash=natural, now=attempt.now)
        return idempotency.Done(answer.status, answer.body, replayed=answer.replayed)

    try:
        outcome = idempotency.run_once(
            db,
            tenant_id=tenant_id,
            token=token,
            key=key,
            request=request_hash,
            action=act,
            races=(idempotency.KeyRace, IntegrityError),
        )
    except access.OverCaps as over:
        raise access.refuse(db, over.who, tenant_id, over.refusal, over.now) from None
    return idempotent.response(outcome)


def group_commit(request: Request) -> bool:
    """``paid`` events go through their tenant's unit writer (group commit) unless the
    settings turn it off (``TOKENMALL_GROUP_COMMIT=false``: one transaction a request)."""
    return settings(request).group_commit


async def _push_paid(
    request: Request,
    db: Db,
    tenant_id: str,
    external_order_id: str,
    token: str | None,
    key: str,
    payload: OrderPaidIn,
) -> Response:
    """``paid`` with group commit: the push joins its tenant's queued pushes
    (``services/mall/integration_pushes.py``), which are read together (callers, keys,
    orders, users) and written as one unit of the tenant's writer; it is answered after that
    commits. Awaited on the event loop (no worker thread waits for it). A replayed event
    under a new Idempotency-Key is rare: it takes the one-transaction path, in a worker
    thread, which stores that key."""
    if token is None:
        raise Unauthenticated("this endpoint needs a bearer token, session cookie or API key")
    body = payload.model_dump(mode="json")
    request_hash = idempotency.request_hash(request.method, request.url.path, body)
    natural = idempotency.request_hash("paid", request.url.path, body)
    user = ExternalUserIn(
        payload.user.external_id, payload.user.display_name, payload.user.referrer_external_id
    )
    push = pushes.Push(
        tenant_id,
        token,
        key,
        request_hash,
        batch.BatchItem(
            external_order_id, user, payload.amount, payload.contribution, natural, VIEWS
        ),
    )
    future = pushes.pushes_for(db.engine).submit(push)
    answer = await asyncio.wait_for(asyncio.wrap_future(future), PUSH_TIMEOUT_SECONDS)
    if answer is not None:
        return _response(answer.status, answer.body, answer.replayed)
    # The event is stored (pushed before under another key): answer it and store this key
    # in one transaction.
    use_case = _paid(tenant_id, external_order_id, payload)
    caps = [(external_order_id, payload.amount)]
    return await run_in_threadpool(
        _push, request, db, tenant_id, token, key, payload, "paid", use_case, caps
    )


def _paid(tenant_id: str, external_order_id: str, payload: OrderPaidIn) -> UseCase:
    """The ``paid`` use case of this push, its arguments bound."""
    user = payload.user
    return partial(
        integration.paid,
        tenant_id=tenant_id,
        external_order_id=external_order_id,
        user=ExternalUserIn(user.external_id, user.display_name, user.referrer_external_id),
        amount=payload.amount,
        contribution=payload.contribution,
        views=VIEWS,
    )


def _response(status_code: int, body: str, replayed: bool) -> Response:
    return idempotent.response(idempotency.Outcome(status_code, body, replayed))


@router.post(
    "/orders/{external_order_id}/paid",
    status_code=status.HTTP_201_CREATED,
    response_model=IntegrationOrderOut,
    summary="The shop's order was paid: money recorded, rewards booked if grant_on=paid (admins)",
    responses=_ERRORS,
)
async def order_paid(
    tenant_id: TenantId,
    external_order_id: OrderId,
    payload: OrderPaidIn,
    request: Request,
    token: Token,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    if group_commit(request):
        return await _push_paid(request, db, tenant_id, external_order_id, token, key, payload)
    # One transaction a request (``TOKENMALL_GROUP_COMMIT=false``), in a worker thread; the
    # caps are checked in it.
    use_case = _paid(tenant_id, external_order_id, payload)
    caps = [(external_order_id, payload.amount)]
    return await run_in_threadpool(
        _push, request, db, tenant_id, token, key, payload, "paid", use_case, caps
    )


@router.post(
    "/batches/paid",
    response_model=BatchPaidOut,
    summary="Many paid orders at once (1-100): each as the single paid event, one result "
    "each; the batch commits whole (admins)",
    responses=_ERRORS,
)
def batch_paid(
    tenant_id: TenantId,
    payload: BatchPaidIn,
    request: Request,
    token: Token,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    """Authenticate and read for the whole batch at once (one read transaction), then write
    its new events as one unit of the tenant's writer (``services/mall/integration_batch``).
    An event the ledger refuses is answered with its error and the rest run again; a race on
    a key reads again and replays what the racing push stored."""
    if token is None:
        raise Unauthenticated("this endpoint needs a bearer token, session cookie or API key")
    body = payload.model_dump(mode="json")
    request_hash = idempotency.request_hash(request.method, request.url.path, body)
    items = []
    for order in body["orders"]:
        single = dict(order)
        external_order_id = single.pop("external_order_id")
        user = single["user"]
        items.append(
            batch.BatchItem(
                external_order_id,
                ExternalUserIn(
                    user["external_id"], user["display_name"], user["referrer_external_id"]
                ),
                single["amount"],
                single["contribution"],
                batch.item_hash(tenant_id, external_order_id, single),
                VIEWS,
            )
        )
    refused: dict[int, dict[str, object]] = {}
    races = 0
    over: access.CapRefusal | None = None
    first = True  # the caps are checked on the first read, before its key is looked up
    while True:
        with db.read() as conn:
            now = utc_now()
            reader = MallUnitOfWork.joining(conn)
            caller = auth.authenticate(reader, token, now)
            if first:
                first = False
                orders = [(i.external_order_id, i.amount) for i in items]
                over = access.push_refusal(reader, caller, tenant_id, orders, now)
            if over is not None:
                break  # recorded and raised below, after this read
            stored = idempotency.lookup(
                reader, tenant_id=tenant_id, scope=caller.scope, key=key, request=request_hash
            )
            if stored is not None:
                return _response(stored.status_code, stored.body, True)
            plan = batch.prepare(
                conn, caller, tenant_id, items, refused=refused, describe=_describe, now=now
            )
        unit = batch.PaidBatchUnit(plan, caller.scope, key, request_hash)
        try:
            if group_commit(request):
                answer: Answer = writers_for(db.engine).call(unit)
            else:
                answer = batch.run_alone(db, unit)
        except batch.EventRefused as refusal:
            refused[refusal.position] = batch.refusal(
                items[refusal.position].external_order_id, _describe(refusal.error)
            )
            continue
        except IntegrityError:
            # A racing push committed one of these orders (or this key) first: read again,
            # which replays what it stored. Each race means another push committed.
            races += 1
            if races > batch.MAX_RACES:
                raise
            continue
        return _response(answer.status, answer.body, False)
    assert over is not None  # the loop ends only for the caps' refusal
    raise access.refuse(db, caller, tenant_id, over, now)


def _describe(error: DomainError) -> tuple[int, dict[str, object]]:
    """An event's refusal in a batch: the status and error body a single push would answer."""
    detail = errors.body(
        getattr(error, "code", None) or type(error).__name__,
        str(error),
        getattr(error, "field", None),
    )["error"]
    return errors.status_of(error), detail


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
    token: Token,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[OrderCompletedIn | None, Body()] = None,
) -> Response:
    use_case = partial(
        integration_closing.completed,
        tenant_id=tenant_id,
        external_order_id=external_order_id,
        views=VIEWS,
    )
    payload = payload or OrderCompletedIn()
    return _push(request, db, tenant_id, token, key, payload, "completed", use_case)


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
    token: Token,
    db: Db,
    key: IdempotencyKey,
    payload: Annotated[OrderRefundedIn | None, Body()] = None,
) -> Response:
    body = payload or OrderRefundedIn()
    use_case = partial(
        integration_closing.refunded,
        tenant_id=tenant_id,
        external_order_id=external_order_id,
        amount=body.amount,
        adjustment=body.adjustment,
        views=VIEWS,
    )
    return _push(request, db, tenant_id, token, key, body, "refunded", use_case)


@router.get(
    "/orders/{external_order_id}",
    response_model=IntegrationOrderOut,
    summary="An integrated order's state and rewards (admins)",
    responses=responses(*COMMON, 403),
)
def get_order(
    tenant_id: TenantId, external_order_id: OrderId, caller: Caller, db: Db
) -> IntegrationOrderOut:
    with db.reading() as uow:
        order = integration_closing.get_order(uow, caller, tenant_id, external_order_id)
    return IntegrationOrderOut.model_validate(VIEWS.order(order, None))
