"""A shopper's checkout's reads, sent together (PostgreSQL): one round trip instead of five.

A checkout signed in with a session reads, before it writes anything: the session with its
owner's role, the answer stored under the request's Idempotency-Key (the caller's scope is the
session's user), the tenant's configuration versions, the shipping address (the one given, or
the user's default) and the lines' SKUs with their products. None of them needs another's
answer in Python (the user is the session's, found by a sub-select), so they go as one
pipeline of fixed statements on the driver's cursor, each its own snapshot as when read one
by one. The rows become the same records the adapters' own reads return
(``people.with_role``, ``idempotency.find``, ``config_version.versions``,
``addresses.get``/``default_of``, ``catalogue.sku_with_product``); the caller checks the
credential (its secret, expiry, revocation) and the rights as before and ignores the rest
when they fail.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db import fast
from tokenmall.adapters.db.mall.addresses import address_of_row
from tokenmall.adapters.db.mall.catalogue import sku_with_product_of_row
from tokenmall.adapters.db.mall.people import session_credential_of_row
from tokenmall.domain.mall.addresses import Address
from tokenmall.domain.mall.catalogue import Product, Sku
from tokenmall.domain.mall.people import Credential, Role
from tokenmall.domain.mall.responses import StoredResponse

_USER = "(SELECT user_id FROM mall_sessions WHERE tenant_id = %s AND session_id = %s)"
_SESSION = (
    "SELECT s.user_id, s.secret_hash, s.expires_at, s.revoked_at, u.role "
    "FROM mall_sessions s JOIN mall_users u "
    "ON u.tenant_id = s.tenant_id AND u.user_id = s.user_id "
    "WHERE s.tenant_id = %s AND s.session_id = %s"
)
_ANSWER = (
    "SELECT request_hash, status_code, response_body FROM mall_idempotency "
    f"WHERE tenant_id = %s AND scope = 'user:' || {_USER} AND idempotency_key = %s"
)
_VERSIONS = (
    "SELECT t.params_version, m.config_version FROM mall_tenants m "
    "JOIN tenants t ON t.tenant_id = m.tenant_id WHERE m.tenant_id = %s"
)
_ADDRESS_COLUMNS = (
    "tenant_id, address_id, user_id, recipient, phone, region, detail, postal_code, "
    "is_default, created_at, updated_at"
)
_ADDRESS = f"SELECT {_ADDRESS_COLUMNS} FROM mall_addresses WHERE tenant_id = %s AND address_id = %s"
_DEFAULT_ADDRESS = (
    f"SELECT {_ADDRESS_COLUMNS} FROM mall_addresses "
    f"WHERE tenant_id = %s AND user_id = {_USER} AND is_default "
    "ORDER BY address_id LIMIT 1"
)
_SKUS = (
    "SELECT s.tenant_id, s.sku_id, s.product_id, s.name, s.price_fen, s.stock, "
    "s.pool_contribution_fen, s.created_at, p.merchant_id, p.title, p.description, p.status, "
    "p.created_at AS product_created_at "
    "FROM mall_skus s JOIN mall_products p "
    "ON p.tenant_id = s.tenant_id AND p.product_id = s.product_id "
    "WHERE s.tenant_id = %s AND s.sku_id = ANY(%s)"
)


@dataclass(frozen=True, slots=True)
class CheckoutReads:
    """What ``read`` found: each record as its adapter's own read returns it (None: no
    row), with the arguments it answers for."""

    session_tenant: str
    session_id: str
    session: tuple[Credential, Role] | None
    tenant_id: str
    key: str
    answer: StoredResponse | None
    versions: tuple[int, int] | None
    address_id: str | None  # None: the default address of the session's user
    address: Address | None
    skus: dict[str, tuple[Sku, Product] | None]

    @property
    def scope(self) -> str | None:
        """The idempotency scope the answer was read under (the session's user's)."""
        return None if self.session is None else f"user:{self.session[0].owner_id}"


def read(
    conn: Connection,
    *,
    session_tenant: str,
    session_id: str,
    tenant_id: str,
    key: str,
    address_id: str | None,
    sku_ids: Sequence[str],
) -> CheckoutReads:
    """The checkout's reads for a session token (``session_tenant``, ``session_id``), on
    ``conn`` outside a transaction, in one pipeline (one round trip)."""
    user = (session_tenant, session_id)
    statements: list[tuple[str, tuple[Any, ...]]] = [
        (_SESSION, user),
        (_ANSWER, (tenant_id, *user, key)),
        (_VERSIONS, (tenant_id,)),
        (_ADDRESS, (tenant_id, address_id))
        if address_id is not None
        else (_DEFAULT_ADDRESS, (tenant_id, *user)),
        (_SKUS, (tenant_id, list(dict.fromkeys(sku_ids)))),
    ]
    cursors = [fast.cursor(conn) for _ in statements]
    try:
        with fast.pipeline(conn, True):
            for cur, (sql, params) in zip(cursors, statements, strict=True):
                cur.execute(sql, params)
        session, answer, versions, address, found = (fast.rows(cur) for cur in cursors)
    finally:
        for cur in cursors:
            cur.close()
    skus: dict[str, tuple[Sku, Product] | None] = dict.fromkeys(sku_ids)
    for row in found:
        skus[row.sku_id] = sku_with_product_of_row(row)
    return CheckoutReads(
        session_tenant=session_tenant,
        session_id=session_id,
        session=session_credential_of_row(session[0]) if session else None,
        tenant_id=tenant_id,
        key=key,
        answer=StoredResponse(*answer[0].values()) if answer else None,
        versions=(int(versions[0].params_version), int(versions[0].config_version))
        if versions
        else None,
        address_id=address_id,
        address=address_of_row(address[0]) if address else None,
        skus=skus,
    )
