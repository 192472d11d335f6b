"""The FastAPI application, built from settings."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tokenmall import bootstrap
from tokenmall.config import Settings
from tokenmall.services.mall import operators, passwords
from tokenmall.services.mall.uow import Database, utc_now
from tokenmall.web import api_docs, channel_check, errors, limits, logs, pages, security_headers
from tokenmall.web.api import (
    addresses,
    catalogue,
    economy,
    health,
    integration,
    kyc,
    log_anchoring,
    market,
    market_money,
    market_royalties,
    nfg_drop,
    nfg_registry,
    nfg_rights,
    orders,
    payment_channels,
    payments,
    payments_alipay,
    payments_wechat,
    payouts,
    people,
    platform,
    referrals,
    refunds,
    settlements,
    statement,
    store,
    tenant_params,
    wallet,
    webhooks,
    withdrawals,
)
from tokenmall.web.api import log as log_api
from tokenmall.web.pages import snapshots
from tokenmall.web.routing import GuardedRouter

log = logging.getLogger("tokenmall.web")

DESCRIPTION = """\
tokenmall's HTTP API. Everything a page can do, an integrator can do here.

* **Money is a decimal string** (`"12.50"`), both ways; JSON numbers are refused for money.
* **Authentication**: `Authorization: Bearer <token>` with a session token (from login), an API
  key, or an operator token; pages may use the session cookie instead.
* **Every mutating request needs an `Idempotency-Key` header** (sign-ins excepted): the
  same key and request get the first answer again; the same key with another request, a 409.
* **Errors** are `{"error": {"code", "message", "field"}}` with a 4xx status; another tenant's
  resources answer 404, exactly like ids that do not exist.
"""


STALE_STATISTICS = (
    "PostgreSQL's autovacuum is off: the planner's statistics are not refreshed and lookups "
    "slow down as tables grow; turn autovacuum on, or run `tokenmall db analyze` after large "
    "changes"
)


def create_app(
    settings: Settings, database: Database | None = None, *, configure_logging: bool = True
) -> FastAPI:
    """The application; ``configure_logging=False`` leaves the process's logging alone (tests
    running in one process with other suites)."""
    if configure_logging:
        logs.configure(settings.log_level)
    passwords.configure(
        fast_for_tests=settings.insecure_fast_password_hashing,
        concurrency=settings.password_hash_concurrency,
        wait_seconds=settings.password_hash_wait_seconds,
    )
    db = database or bootstrap.open_database(settings.database_url)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.migrate_on_start:
            bootstrap.upgrade(db.engine)
        if not bootstrap.statistics_kept(db.engine):
            log.warning(STALE_STATISTICS, extra={"fields": {"autovacuum": "off"}})
        if settings.operator_email and settings.operator_password:
            with db.unit() as uow:
                created = operators.ensure(
                    uow,
                    settings.operator_email,
                    settings.operator_password.get_secret_value(),
                    utc_now(),
                )
            if created:
                log.info("operator created", extra={"fields": {"email": settings.operator_email}})
        if settings.check_channels_on_start:
            app.state.channel_check = channel_check.start(app, db, settings)
        yield
        if database is None:
            db.dispose()

    app = FastAPI(
        title="tokenmall",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by api_docs from vendored files (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.database = db
    app.state.snapshots = snapshots.Snapshots()  # the storefront's public data, per worker
    app.state.log_config = bootstrap.log_config(
        settings.secret_key.get_secret_value(), settings.log_host
    )
    errors.install(app)
    app.add_middleware(limits.RequestLimitsMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(logs.RequestIdMiddleware)
    app.add_middleware(security_headers.SecurityHeadersMiddleware)
    api = GuardedRouter()
    for module in (
        health,
        # First: a request is matched against the routers in this order, and the shops'
        # order pushes are the hottest path (its paths are its own: nothing else matches).
        integration,
        platform,
        people,
        tenant_params,
        catalogue,
        economy,
        orders,
        refunds,
        addresses,
        payments,
        payments_alipay,
        payments_wechat,
        payment_channels,
        wallet,
        statement,
        withdrawals,
        payouts,
        kyc,
        referrals,
        settlements,
        webhooks,
        log_anchoring,
        log_api,
        nfg_registry,
        store,
        nfg_drop,
        nfg_rights,
        market,
        market_money,
        market_royalties,
    ):
        # Each module behind its own guard too, as the pages' parts are: a path is tried
        # only against the module whose patterns match it, not every route before it.
        part = GuardedRouter()
        part.include_router(module.router)
        api.include_router(part)
    # The API's routers behind one guard (``web/routing.py``): a page's path is not tried
    # against each of the API's routes before the pages'.
    app.include_router(api)
    app.include_router(api_docs.router)
    app.include_router(pages.router)
    return app
