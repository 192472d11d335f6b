"""Running a mutating route: one transaction that does the change and stores its answer."""

from __future__ import annotations

import functools
from collections.abc import Callable

from fastapi import Request
from fastapi.responses import Response
from pydantic import BaseModel
from sqlalchemy import Connection

from tokenmall.services.mall import idempotency
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.uow import Database, utc_now

# (status, response model, what to store for replays: None to store the response itself)
Outcome = tuple[int, BaseModel, BaseModel | None]


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
    """Do ``action`` once per (tenant, caller, key); a replay answers what the first did.

    Errors are not stored: a refused request changed nothing, so a retry is simply re-run.
    """
    body = None if payload is None else payload.model_dump(mode="json")
    request_hash = idempotency.request_hash(request.method, request.url.path, body)
    scope = "anonymous" if caller is None else caller.scope
    sent: list[str] = []

    def act(conn: Connection) -> tuple[int, str]:
        status, response, stored = action(conn)
        sent.append(response.model_dump_json())
        return status, (stored or response).model_dump_json()

    for attempt in (1, 2):
        sent.clear()
        try:
            with db.transaction() as conn:
                answer, replayed = idempotency.run(
                    conn,
                    tenant_id=tenant_id,
                    scope=scope,
                    key=key,
                    request=request_hash,
                    action=functools.partial(act, conn),
                    now=utc_now(),
                )
        except idempotency.KeyRace:
            if attempt == 2:
                raise
            continue
        text = answer.body if replayed else sent[0]
        headers = {"Idempotency-Replayed": "true" if replayed else "false"}
        return Response(
            text, status_code=answer.status_code, media_type="application/json", headers=headers
        )
    raise AssertionError("unreachable")
