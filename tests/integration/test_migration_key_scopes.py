"""Migration 0017 on both databases: keys that predate scopes hold ``integration`` only."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from alembic import command
from sqlalchemy import insert, inspect

from tokenmall.adapters.db import migrate
from tokenmall.adapters.db.mall import tables as m
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import tenants as ledger_tenants
from tokenmall.domain.mall.people import Scope
from tokenmall.services.mall import auth, ids
from tokenmall.services.mall.uow import MallUnitOfWork

BEFORE = "0016_journals_immutable"


def _migrate(store: Store, direction: str, target: str) -> None:
    cfg = migrate.config()
    with store.engine.begin() as conn:
        cfg.attributes["connection"] = conn
        getattr(command, direction)(cfg, target)


def test_keys_of_before_scopes_get_integration_only(store: Store) -> None:
    tenant = f"t{uuid.uuid4().hex[:12]}"
    now = datetime.now(UTC)
    secret = ids.new_secret()
    _migrate(store, "downgrade", BEFORE)
    try:
        assert "mall_api_key_scopes" not in inspect(store.engine).get_table_names()
        with store.transaction() as conn:
            # the ledger's tenant row as that schema had it (today's economy_state has more)
            conn.execute(
                insert(ledger_tenants).values(tenant_id=tenant, params="{}", params_version=1)
            )
            conn.execute(insert(m.tenants).values(tenant_id=tenant, name="T", created_at=now))
            conn.execute(
                insert(m.users).values(
                    tenant_id=tenant,
                    user_id="usr_admin",
                    email="admin@x.test",
                    display_name="admin",
                    password_hash="x",
                    role="admin",
                    kyc_status="none",
                    invite_code="ADMIN1",
                    created_at=now,
                )
            )
            conn.execute(
                insert(m.api_keys).values(
                    tenant_id=tenant,
                    key_id="key_old",
                    user_id="usr_admin",
                    name="shop",
                    secret_hash=ids.hash_secret(secret),
                    created_at=now,
                )
            )
    finally:
        _migrate(store, "upgrade", "heads")
    assert migrate.current(store.engine) == migrate.heads()
    with store.read() as conn:
        reader = MallUnitOfWork.joining(conn)
        who = auth.authenticate(reader, auth.api_key_token(tenant, "key_old", secret), now)
    assert who.scopes == frozenset({Scope.INTEGRATION})
