"""Tokens for the certificate tests, written straight into the registry and the log: a
collection, its tokens minted to owners, some transferred, each change recorded in the
tenant's transparency log in the same unit of work (``services/log/appending.record``)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.domain.mall.people import User
from tokenmall.domain.nfg import events
from tokenmall.domain.nfg.records import (
    Collection,
    CollectionStatus,
    PriceAsset,
    Token,
    TokenState,
)
from tokenmall.domain.nfg.rights import Rights
from tokenmall.services.log.appending import record
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.ids import new_id
from tokenmall.services.mall.uow import Database, utc_now


def consumers(db: Database, tenant_id: str, count: int = 2) -> list[User]:
    with db.reading() as unit:
        found = people_repo.list_users(unit.conn, tenant_id, "consumer", None, count)
    assert len(found) == count, found
    return found


def make_collection(
    db: Database,
    config: LogConfig,
    tenant_id: str,
    owners: Sequence[str],
    *,
    name: str = "2024 珍藏干红 · 编号款",
    edition_size: int = 100,
    rights: Rights | None = None,
    now: datetime | None = None,
) -> Collection:
    """A published collection with serials 1..len(owners) minted to ``owners`` (logged)."""
    now = now or utc_now()
    collection = Collection(
        tenant_id=tenant_id,
        collection_id=new_id("col"),
        name=name,
        description="每瓶独立编号",
        issuer_merchant_id=None,
        edition_size=edition_size,
        price=19_900,
        price_asset=PriceAsset.MONEY,
        per_user_limit=2,
        rights=rights or Rights(),
        status=CollectionStatus.PUBLISHED,
        created_at=now,
        minted=len(owners),
    )
    tokens = [
        Token(tenant_id, collection.collection_id, serial, owner, TokenState.HELD, now)
        for serial, owner in enumerate(owners, start=1)
    ]
    with db.unit() as unit:
        unit.nfg.add_collection(collection)
        unit.nfg.add_tokens(tokens, now)
        logged = [events.collection_created(collection)]
        logged += [events.mint(t.collection_id, t.serial, t.owner_id, "grant") for t in tokens]
        record(unit.log, config, tenant_id, logged, now)
    return collection


def transfer(
    db: Database,
    config: LogConfig,
    collection: Collection,
    serial: int,
    recipient: str,
    now: datetime | None = None,
) -> None:
    """Give ``serial`` to ``recipient`` (logged; no checkpoint forced)."""
    now = now or utc_now() + timedelta(milliseconds=1)
    with db.unit() as unit:
        token = unit.nfg.get_token(collection.tenant_id, collection.collection_id, serial)
        assert token is not None
        unit.nfg.move_token(
            collection.tenant_id,
            collection.collection_id,
            serial,
            state=TokenState.HELD,
            now=now,
            owner_id=recipient,
        )
        event = events.transfer(collection.collection_id, serial, token.owner_id, recipient)
        record(unit.log, config, collection.tenant_id, [event], now)
