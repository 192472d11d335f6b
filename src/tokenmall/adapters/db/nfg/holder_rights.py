"""The ``HolderRights`` port in SQL: what a buyer's held tokens allow at checkout.

Rights are stored as JSON on each collection (``nfg_collections.rights``), so the tenant's
collections carrying a ``may_buy`` or ``discount`` right are read once and parsed here; the
tokens are read by an indexed query on the buyer (``ix_nfg_tokens_tenant_owner``). A tenant
without collections costs one empty query.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from sqlalchemy import Connection, select

from tokenmall.adapters.db.nfg.tables import nfg_collections, nfg_tokens
from tokenmall.domain.nfg.holders import BuyerRights, Gate, HeldDiscount
from tokenmall.domain.nfg.records import TokenState
from tokenmall.domain.nfg.rights import parse_rights

# A collection carrying a right the checkout applies: (collection id, name, may_buy SKU ids,
# discount in basis points or None).
RightsCollection = tuple[str, str, tuple[str, ...], int | None]


def rights_collections(conn: Connection, tenant_id: str) -> list[RightsCollection]:
    """The tenant's collections carrying a ``may_buy`` or a ``discount`` right (tenant
    configuration: the checkout caches it against the tenant's configuration version)."""
    c = nfg_collections.c
    rows = conn.execute(
        select(c.collection_id, c.name, c.rights)
        .where(
            c.tenant_id == tenant_id,
            c.rights.like("%may_buy%") | c.rights.like("%discount_bps%"),
        )
        .order_by(c.collection_id)
    ).all()
    found: list[RightsCollection] = []
    for collection_id, name, raw in rows:
        rights = parse_rights(json.loads(raw))
        found.append((collection_id, name, tuple(rights.may_buy), rights.discount_bps))
    return found


def buyer_rights(
    conn: Connection,
    tenant_id: str,
    user_id: str,
    sku_ids: Sequence[str],
    collections: Sequence[RightsCollection],
) -> BuyerRights:
    """What ``collections`` (``rights_collections``) allow the buyer: the gates on
    ``sku_ids``, the collections the buyer holds a token of (state ``held``), their
    discounts. No collections: no read."""
    if not collections:
        return BuyerRights()
    wanted = set(sku_ids)
    gates: dict[str, list[Gate]] = {}
    discount_of: dict[str, tuple[str, int]] = {}
    for collection_id, name, may_buy, discount_bps in collections:
        for sku_id in may_buy:
            if sku_id in wanted:
                gates.setdefault(sku_id, []).append(Gate(collection_id, name))
        if discount_bps is not None:
            discount_of[collection_id] = (name, discount_bps)
    t = nfg_tokens.c
    held = conn.execute(
        select(t.collection_id, t.serial)
        .where(
            t.tenant_id == tenant_id,
            t.owner_id == user_id,
            t.state == str(TokenState.HELD),
        )
        .order_by(t.collection_id, t.serial)
    ).all()
    discounts = tuple(
        HeldDiscount(collection_id, discount_of[collection_id][0], int(serial), bps)
        for collection_id, serial in held
        if collection_id in discount_of
        for bps in (discount_of[collection_id][1],)
    )
    return BuyerRights(
        {sku: tuple(found) for sku, found in gates.items()},
        frozenset(collection_id for collection_id, _ in held),
        discounts,
    )


class SqlHolderRights:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn

    def of_buyer(self, tenant_id: str, user_id: str, sku_ids: Sequence[str]) -> BuyerRights:
        collections = rights_collections(self.conn, tenant_id)
        return buyer_rights(self.conn, tenant_id, user_id, sku_ids, collections)
