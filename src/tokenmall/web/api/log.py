"""The transparency log's public endpoints (no login): checkpoint, key, entries, proofs.

Paths and shapes are docs/design/nfg.md's: the checkpoint and the key are text/plain; entries,
inclusion and consistency proofs are JSON with base64 leaves and hex hashes.
"""

from __future__ import annotations

import base64
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from tokenmall.services.log import public
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.uow import utc_now
from tokenmall.web.api.common import TenantId
from tokenmall.web.deps import Db, single_query_values
from tokenmall.web.errors import COMMON, json_responses, responses

router = APIRouter(
    prefix="/api/v1/tenants/{tenant_id}/log",
    tags=["transparency log"],
    dependencies=[Depends(single_query_values)],
)

Index = Annotated[int, Query(ge=0, le=2**62, description="A leaf index (0-based)")]
Size = Annotated[int, Query(ge=0, le=2**62, description="A tree size (a number of leaves)")]


def log_config(request: Request) -> LogConfig:
    found: LogConfig = request.app.state.log_config
    return found


Config = Annotated[LogConfig, Depends(log_config)]


class Entry(BaseModel):
    index: int
    leaf: str  # base64 of the leaf's bytes (canonical JSON)


class Entries(BaseModel):
    entries: list[Entry]


class InclusionProof(BaseModel):
    leaf_index: int
    tree_size: int
    hashes: list[str]


class ConsistencyProof(BaseModel):
    hashes: list[str]


TEXT: dict[str, Any] = {"content": {"text/plain": {}}}


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    summary="The latest signed checkpoint (C2SP tlog-checkpoint in a signed note)",
    responses={200: TEXT, **json_responses(*COMMON)},
)
def checkpoint(tenant_id: TenantId, db: Db, config: Config) -> PlainTextResponse:
    return PlainTextResponse(public.checkpoint(db, config, tenant_id, utc_now()))


@router.get(
    "/key",
    response_class=PlainTextResponse,
    summary="The log's verifier key (name+keyhash+base64(0x01 || Ed25519 public key))",
    responses={200: TEXT, **json_responses(*COMMON)},
)
def key(tenant_id: TenantId, db: Db, config: Config) -> PlainTextResponse:
    return PlainTextResponse(public.key(db, config, tenant_id, utc_now()) + "\n")


@router.get(
    "/entries",
    response_model=Entries,
    summary="Leaves start <= i < end, at most 1,000 (fewer past the log's end)",
    responses=responses(*COMMON),
)
def entries(tenant_id: TenantId, db: Db, start: Index, end: Size) -> Entries:
    found = public.entries(db, tenant_id, start, end)
    return Entries(
        entries=[Entry(index=e.index, leaf=base64.b64encode(e.leaf).decode()) for e in found]
    )


@router.get(
    "/proof/inclusion",
    response_model=InclusionProof,
    summary="The RFC 9162 inclusion proof of leaf `index` in the tree of `tree_size` leaves",
    responses=responses(*COMMON),
)
def inclusion(tenant_id: TenantId, db: Db, index: Index, tree_size: Size) -> InclusionProof:
    hashes = public.inclusion(db, tenant_id, index, tree_size)
    return InclusionProof(leaf_index=index, tree_size=tree_size, hashes=[h.hex() for h in hashes])


@router.get(
    "/proof/consistency",
    response_model=ConsistencyProof,
    summary="The RFC 9162 consistency proof between the trees of `first` and `second` leaves",
    responses=responses(*COMMON),
)
def consistency(tenant_id: TenantId, db: Db, first: Size, second: Size) -> ConsistencyProof:
    hashes = public.consistency(db, tenant_id, first, second)
    return ConsistencyProof(hashes=[h.hex() for h in hashes])
