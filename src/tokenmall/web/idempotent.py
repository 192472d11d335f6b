"""Running a mutating route once per Idempotency-Key (``idempotency.run_once``) and answering
its outcome."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, MallUnitOfWork

# (status, response model, what to store for replays: None to store the response itself)
Outcome = tuple[int, BaseModel, BaseModel | None]


def response(outcome: idempotency.Outcome) -> Response:
    """The JSON answer of an idempotent write, saying whether it is a replay."""
    return Response(
        outcome.body,
        status_code=outcome.status,
        media_type="application/json",
        headers={"Idempotency-Replayed": "true" if outcome.replayed else "false"},
    )


def hash_of(request: Request, payload: BaseModel | None) -> str:
    """The request's hash its Idempotency-Key is stored with (method, path, JSON payload)."""
    body = None if payload is None else payload.model_dump(mode="json")
    return idempotency.request_hash(request.method, request.url.path, body)


def run(
    request: Request,
    db: Database,
    *,
    tenant_id: str,
    caller: Principal | None,
    key: str,
    payload: BaseModel | None,
    action: Callable[[Connection], Outcome],
) -> Response:
    """Do ``action`` once per (tenant, caller, key); a replay answers what the first did."""
    request_hash = hash_of(request, payload)

    def act(attempt: idempotency.Attempt) -> idempotency.Done:
        status, sent, stored = action(attempt.conn)
        text = sent.model_dump_json()
        return idempotency.Done(status, text, None if stored is None else stored.model_dump_json())

    outcome = idempotency.run_once(
        db, tenant_id=tenant_id, caller=caller, key=key, request=request_hash, action=act
    )
    return response(outcome)


def run_signed_in(
    request: Request,
    db: Database,
    *,
    tenant_id: str,
    sign_in: Callable[[MallUnitOfWork, datetime], Principal | None],
    key: str,
    payload: BaseModel | None,
    action: Callable[[Connection, Principal | None], Outcome],
) -> Response:
    """``run`` with the caller authenticated inside the write's own transaction (``sign_in``):
    one transaction a request instead of a reading one before it."""
    request_hash = hash_of(request, payload)

    def act(attempt: idempotency.Attempt) -> idempotency.Done:
        status, sent, stored = action(attempt.conn, attempt.caller)
        text = sent.model_dump_json()
        return idempotency.Done(status, text, None if stored is None else stored.model_dump_json())

    outcome = idempotency.run_once(
        db, tenant_id=tenant_id, key=key, request=request_hash, action=act, sign_in=sign_in
    )
    return response(outcome)
