"""A token's public certificate (证书): what its page shows, read without a login.

The token and its collection come from the registry (``unit.nfg``); its history from the
transparency log (``unit.log``: every event filed under the token's ``collection/serial``);
its proof bundle from ``services/log/reading.bundle``, which signs a checkpoint covering the
token's last event if none does yet. People are named only masked (``张*``): the first
character of their display name, never their email or id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime

from tokenmall.domain.nfg.records import Collection, Token, token_key
from tokenmall.services import lookups
from tokenmall.services.log import reading
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.uow import Database, MallUnitOfWork

PEOPLE_FIELDS = ("to", "from", "owner", "buyer", "seller", "by")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One logged event of the token: its place in the log, kind, time and fields, with the
    people it names masked (``people``: field -> masked name)."""

    index: int
    type: str
    time: datetime | None
    fields: dict[str, object]
    people: dict[str, str]


@dataclass(frozen=True, slots=True)
class SkuName:
    sku_id: str
    name: str  # "product title · SKU name", or the id when the SKU is gone


@dataclass(frozen=True, slots=True)
class Certificate:
    tenant_id: str
    tenant_name: str
    collection: Collection
    token: Token
    issuer: str
    owner: str  # masked
    history: list[HistoryEntry]
    skus: dict[str, SkuName]  # the SKUs the rights name
    bundle: dict[str, object] | None  # None while the log has no event of the token
    pending: int  # events no checkpoint covers yet

    @property
    def key(self) -> str:
        return self.token.key

    @property
    def tree_size(self) -> int | None:
        return None if self.bundle is None else int(str(self.bundle["tree_size"]))

    @property
    def root(self) -> str | None:
        return None if self.bundle is None else str(self.bundle["root"])

    @property
    def checkpoint(self) -> str | None:
        return None if self.bundle is None else str(self.bundle["checkpoint"])

    @property
    def anchor(self) -> dict[str, object] | None:
        """The anchoring transaction of the bundle's checkpoint, if it is anchored."""
        found = None if self.bundle is None else self.bundle.get("anchor")
        return found if isinstance(found, dict) else None


def mask_name(display_name: str | None) -> str:
    """``张三`` -> ``张*``: the first character and one star (the length is not told)."""
    name = (display_name or "").strip()
    return f"{name[0]}*" if name else "*"


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _masked(unit: MallUnitOfWork, tenant_id: str, user_id: str, cache: dict[str, str]) -> str:
    found = cache.get(user_id)
    if found is None:
        user = unit.people.get_user(tenant_id, user_id)
        found = mask_name(user.display_name if user is not None else None)
        cache[user_id] = found
    return found


def _find(unit: MallUnitOfWork, tenant_id: str, collection_id: str, serial: int) -> Token:
    token = unit.nfg.get_token(tenant_id, collection_id, serial)
    if token is None:
        raise NotFound(f"no token {token_key(collection_id, serial)}")
    return token


def _history(
    unit: MallUnitOfWork, tenant_id: str, key: str, names: dict[str, str]
) -> list[HistoryEntry]:
    history: list[HistoryEntry] = []
    for leaf in unit.log.of_subject(tenant_id, key):
        try:
            fields = json.loads(leaf.leaf.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            continue
        if not isinstance(fields, dict):
            continue
        people = {
            name: _masked(unit, tenant_id, str(fields[name]), names)
            for name in PEOPLE_FIELDS
            if isinstance(fields.get(name), str)
        }
        history.append(
            HistoryEntry(leaf.index, leaf.type, _time(fields.get("time")), fields, people)
        )
    return history


def _skus(unit: MallUnitOfWork, tenant_id: str, collection: Collection) -> dict[str, SkuName]:
    named: dict[str, SkuName] = {}
    for sku_id in collection.rights.skus():
        sku = unit.catalogue.get_sku(tenant_id, sku_id)
        if sku is None:
            named[sku_id] = SkuName(sku_id, sku_id)
            continue
        product = unit.catalogue.get_product(tenant_id, sku.product_id)
        title = f"{product.title} · {sku.name}" if product is not None else sku.name
        named[sku_id] = SkuName(sku_id, title)
    return named


def _issuer(unit: MallUnitOfWork, collection: Collection, tenant_name: str) -> str:
    if collection.issuer_merchant_id is None:
        return tenant_name
    merchant = unit.catalogue.get_merchant(collection.tenant_id, collection.issuer_merchant_id)
    return merchant.name if merchant is not None else tenant_name


def certificate(
    db: Database,
    config: LogConfig,
    tenant_id: str,
    collection_id: str,
    serial: int,
    now: datetime,
) -> Certificate:
    """The certificate of ``collection_id/serial`` of the tenant (``NotFound`` if there is no
    such tenant or token); signs a checkpoint covering the token's events if none does."""
    with db.unit() as unit:
        tenant = lookups.find_tenant(unit.conn, tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id}")
        token = _find(unit, tenant_id, collection_id, serial)
        collection = unit.nfg.get_collection(tenant_id, collection_id)
        if collection is None:
            raise NotFound(f"no collection {collection_id}")
        names: dict[str, str] = {}
        history = _history(unit, tenant_id, token.key, names)
        bundle: dict[str, object] | None = None
        pending = 0
        if history:
            made = reading.bundle(unit.log, config, tenant_id, token.key, now, anchors=unit.anchors)
            bundle, pending = made.document, made.pending
        return Certificate(
            tenant_id=tenant_id,
            tenant_name=tenant.name,
            collection=collection,
            token=token,
            issuer=_issuer(unit, collection, tenant.name),
            owner=_masked(unit, tenant_id, token.owner_id, names),
            history=history,
            skus=_skus(unit, tenant_id, collection),
            bundle=bundle,
            pending=pending,
        )


def bundle(
    db: Database,
    config: LogConfig,
    tenant_id: str,
    collection_id: str,
    serial: int,
    now: datetime,
) -> dict[str, object]:
    """The token's proof bundle (what the offline verifier checks); ``NotFound`` if there is
    no such tenant or token, or the log has no event of it yet."""
    with db.unit() as unit:
        if not unit.log.tenant_exists(tenant_id):
            raise NotFound(f"no tenant {tenant_id}")
        token = _find(unit, tenant_id, collection_id, serial)
        return reading.bundle(
            unit.log, config, tenant_id, token.key, now, anchors=unit.anchors
        ).document
