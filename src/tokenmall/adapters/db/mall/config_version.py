"""A tenant's configuration version (``mall_tenants.config_version``) and the ledger's
parameters version, read together in one statement.

What the checkout reads of a tenant's configuration on every request — its payment channels,
its collections' rights, its order settings — is cached per process against this version
(``services/mall/tenant_config.py``), and so are its active webhook endpoints, which the paid
callbacks' writer emits events to (``uow_wallet.SqlOutboxRows.prefetch``). Every write of
that configuration calls ``bump`` in its own transaction, so the version read by any process
names exactly the configuration committed with it. The parameters have their own version
(``tenants.params_version``, bumped by the ledger with every change), read in the same
statement.
"""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select, update

from tokenmall.adapters.db.mall.tables import tenants
from tokenmall.adapters.db.tables import tenants as ledger_tenants

# Built once: one of the checkout's statements on every request.
_VERSIONS = (
    select(ledger_tenants.c.params_version, tenants.c.config_version)
    .join(ledger_tenants, ledger_tenants.c.tenant_id == tenants.c.tenant_id)
    .where(tenants.c.tenant_id == bindparam("tenant"))
)
_BUMP = (
    update(tenants)
    .where(tenants.c.tenant_id == bindparam("tenant"))
    .values(config_version=tenants.c.config_version + 1)
)


def versions(conn: Connection, tenant_id: str) -> tuple[int, int] | None:
    """The tenant's (parameters version, configuration version); None for no mall tenant."""
    row = conn.execute(_VERSIONS, {"tenant": tenant_id}).first()
    return None if row is None else (int(row[0]), int(row[1]))


def bump(conn: Connection, tenant_id: str) -> None:
    """A change of the tenant's cached configuration, in ``conn``'s transaction (the row's
    lock is held to its commit: two changes of one tenant's configuration queue on it)."""
    conn.execute(_BUMP, {"tenant": tenant_id})
