"""A tenant's anchoring of its log's checkpoints on an EVM chain (the tenant's admins).

``GET`` shows the settings (never the key: only the account's address) and the newest
anchor's status and last error; ``PUT`` stores them (the key sealed under the deployment's
secret); ``GET …/check`` reaches the endpoint and names the first problem: unreachable, wrong
chain id, no contract, an account without funds. A problem is an answer (``ok: false``),
never a 500. ``POST …/deploy`` deploys the contract from the tenant's account and records its
transaction and block; a deployed contract is replaced only with ``replace``, and every
refusal is a 409 naming the field at fault (never a 500). ``GET`` also lists the anchors a
reorganisation removed, each with the newer anchor covering it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field
from sqlalchemy import Connection

from tokenmall import bootstrap
from tokenmall.services.log import anchor_settings
from tokenmall.services.log.anchor_settings import AnchorRecord, AnchorView, ConnectionCheck
from tokenmall.services.log.anchoring import Anchoring
from tokenmall.services.mall.uow import MallUnitOfWork, utc_now
from tokenmall.web.api.common import TenantId, write
from tokenmall.web.deps import Caller, Db, IdempotencyKey, settings, single_query_values
from tokenmall.web.errors import COMMON, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/log/anchoring",
    tags=["transparency log"],
    dependencies=[Depends(single_query_values)],
)


def anchoring(request: Request) -> Anchoring:
    return bootstrap.anchoring(settings(request).secret_key.get_secret_value())


class AnchoringIn(BaseModel):
    rpc_url: Annotated[
        str, Field(max_length=500, description="The chain's JSON-RPC URL (http(s) or ws(s))")
    ]
    chain_id: Annotated[int, Field(ge=1, le=2**53 - 1, description="The chain's id (EIP-155)")]
    contract: Annotated[
        str | None,
        Field(
            default=None, max_length=42, description="The Anchor contract's address, if deployed"
        ),
    ]
    private_key: Annotated[
        str | None,
        Field(
            default=None,
            max_length=66,
            description="The sending account's secp256k1 key (64 hex digits); omit to keep it",
        ),
    ]


class AnchorOut(BaseModel):
    tree_size: int
    status: str
    tx_hash: str | None
    block_number: int | None
    block_hash: str | None
    attempts: int
    next_try_at: datetime
    last_error: str | None


def _anchor(r: AnchorRecord | None) -> AnchorOut | None:
    if r is None:
        return None
    return AnchorOut(
        tree_size=r.size,
        status=r.status,
        tx_hash=r.tx_hash,
        block_number=r.block_number,
        block_hash=r.block_hash,
        attempts=r.attempts,
        next_try_at=r.next_try_at,
        last_error=r.last_error,
    )


class DroppedOut(BaseModel):
    """A confirmed anchor a reorganisation took away; ``covered_by`` is the tree size of the
    newer confirmed anchor on the same contract that covers it (null: a gap, none yet)."""

    tree_size: int
    tx_hash: str | None
    contract: str
    covered_by: int | None


class AnchoringOut(BaseModel):
    configured: bool
    rpc_url: str | None
    chain_id: int | None
    contract: str | None
    account: str | None
    deploy_tx_hash: str | None
    deploy_block: int | None
    latest: AnchorOut | None
    confirmed: AnchorOut | None
    dropped: list[DroppedOut]

    @classmethod
    def of(cls, found: AnchorView) -> AnchoringOut:
        return cls(
            configured=found.configured,
            rpc_url=found.rpc_url,
            chain_id=found.chain_id,
            contract=found.contract,
            account=found.account,
            deploy_tx_hash=found.deploy_tx_hash,
            deploy_block=found.deploy_block,
            latest=_anchor(found.latest),
            confirmed=_anchor(found.confirmed),
            dropped=[
                DroppedOut(
                    tree_size=d.record.size,
                    tx_hash=d.record.tx_hash,
                    contract=d.record.contract,
                    covered_by=d.covered_by,
                )
                for d in found.dropped
            ],
        )


class CheckOut(BaseModel):
    ok: bool
    problem: str | None
    chain_id: int | None
    block: int | None
    balance_wei: str | None  # an integer of wei, as a decimal string

    @classmethod
    def of(cls, found: ConnectionCheck) -> CheckOut:
        balance = None if found.balance is None else str(found.balance)
        return cls(
            ok=found.ok,
            problem=found.problem,
            chain_id=found.chain_id,
            block=found.block,
            balance_wei=balance,
        )


@router.get(
    "",
    response_model=AnchoringOut,
    summary="The anchoring settings (never the key) and the newest anchor (the tenant's admins)",
    responses=responses(*COMMON, 403),
)
def show(tenant_id: TenantId, caller: Caller, db: Db) -> AnchoringOut:
    anchor_settings.admin(caller, tenant_id)
    return AnchoringOut.of(anchor_settings.view(db, tenant_id))


@router.put(
    "",
    response_model=AnchoringOut,
    summary="Set the chain's JSON-RPC URL, chain id, contract and account key (admins)",
    responses=responses(*COMMON, 403),
)
def configure(
    tenant_id: TenantId,
    payload: AnchoringIn,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
) -> Response:
    anchor_settings.admin(caller, tenant_id)
    how = anchoring(request)

    def make(conn: Connection) -> BaseModel:
        found = anchor_settings.configure(
            MallUnitOfWork.joining(conn),
            how,
            tenant_id,
            rpc_url=payload.rpc_url,
            chain_id=payload.chain_id,
            contract=payload.contract,
            private_key=payload.private_key,
            now=utc_now(),
        )
        return AnchoringOut.of(found)

    return write(request, db, caller, tenant_id, key, payload, make)


class DeployIn(BaseModel):
    replace: Annotated[
        bool,
        Field(
            default=False,
            description="Replace the deployed contract (checkpoints are anchored again on it)",
        ),
    ]


class DeployOut(BaseModel):
    contract: str
    tx_hash: str
    block_number: int
    replaced: str | None


@router.post(
    "/deploy",
    response_model=DeployOut,
    status_code=201,
    summary="Deploy the anchoring contract from the tenant's account (admins)",
    responses=responses(*COMMON, 403, 409),
)
def deploy(
    tenant_id: TenantId,
    request: Request,
    caller: Caller,
    db: Db,
    key: IdempotencyKey,
    payload: DeployIn | None = None,
) -> Response:
    """409 naming the field: a contract already deployed without ``replace``, the endpoint
    unreachable (``rpc_url``), another chain (``chain_id``), no funds (``private_key``)."""
    anchor_settings.admin(caller, tenant_id)
    how = anchoring(request)
    body = payload or DeployIn(replace=False)

    def make(conn: Connection) -> BaseModel:
        done = anchor_settings.deploy_in(
            MallUnitOfWork.joining(conn),
            how,
            tenant_id,
            replace_deployed=body.replace,
            now=utc_now(),
        )
        return DeployOut(
            contract=done.address,
            tx_hash=done.tx_hash,
            block_number=done.block_number,
            replaced=done.replaced,
        )

    return write(request, db, caller, tenant_id, key, body, make, status_code=201)


@router.get(
    "/check",
    response_model=CheckOut,
    summary="Test the connection: reachable, the right chain, the contract there, funds for gas",
    responses=responses(*COMMON, 403),
)
def check(tenant_id: TenantId, request: Request, caller: Caller, db: Db) -> CheckOut:
    anchor_settings.admin(caller, tenant_id)
    return CheckOut.of(anchor_settings.check(db, anchoring(request), tenant_id))
