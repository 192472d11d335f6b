"""settlements routes (issue 4): to be filled."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/api/v1/tenants/{tenant_id}", tags=["settlements"])
