"""``/healthz`` (the process answers) and ``/readyz`` (database reachable, migrations at head)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from tokenmall.web.api.schemas import Health
from tokenmall.web.deps import Db

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health, summary="Liveness: the process answers")
def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Health,
    summary="Readiness: the database answers and its schema is at the newest migration",
    responses={503: {"model": Health, "description": "Not ready; checks say why"}},
)
def readyz(request: Request, db: Db) -> JSONResponse:
    from tokenmall.web.readiness import check

    checks = check(db)
    ok = all(value == "ok" for value in checks.values())
    health = Health(status="ok" if ok else "unavailable", checks=checks)
    return JSONResponse(health.model_dump(mode="json"), status_code=200 if ok else 503)
