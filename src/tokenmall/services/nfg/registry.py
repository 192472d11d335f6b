"""Collections (系列) of the NFG registry: create, edit while draft, publish, close, read.

Admins create collections issued by the tenant or by one of its merchants; a merchant creates
them for its own store only. Every create (and every edit of a draft) records the collection's
definition in the tenant's transparency log in the same transaction (``collection_created``):
the log's replay needs its edition size. Published collections are public; drafts and closed
ones are seen by admins and the issuing merchant only (others are told 404).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from tokenmall.domain.mall.errors import TransitionRefused
from tokenmall.domain.mall.people import Role
from tokenmall.domain.nfg import events, lifecycle
from tokenmall.domain.nfg.records import Collection, CollectionStatus
from tokenmall.services.log import appending
from tokenmall.services.log.checkpoints import LogConfig
from tokenmall.services.mall import ids
from tokenmall.services.mall.auth import Principal, actor, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.mall.uow import MallUnitOfWork
from tokenmall.services.nfg import checks

ISSUERS: tuple[Role, ...] = (Role.ADMIN, Role.MERCHANT)
EVERYONE: tuple[Role, ...] = (Role.CONSUMER, Role.MERCHANT, Role.ADMIN)


@dataclass(frozen=True, slots=True)
class NewCollection:
    """A collection as given at the edge (amounts as decimal strings)."""

    name: str
    description: str
    edition_size: int
    price: str
    price_asset: str
    per_user_limit: int = 1
    sale_starts_at: datetime | None = None
    sale_ends_at: datetime | None = None
    allow_list: Sequence[str] = ()
    linked_sku_id: str | None = None
    rights: Mapping[str, object] | None = None
    media_id: str | None = None
    issuer_merchant_id: str | None = None


def _issuer(unit: MallUnitOfWork, who: Principal, tenant_id: str, asked: str | None) -> str | None:
    """The issuing merchant: a merchant's own store; for an admin the one asked (or None)."""
    if who.role == Role.MERCHANT:
        own = unit.catalogue.merchant_of_owner(tenant_id, who.subject_id)
        if own is None:
            raise Conflict("you have no store yet: create your merchant first")
        if asked is not None and asked != own.merchant_id:
            raise InvalidInput("a merchant issues collections of its own store only", "issuer")
        return own.merchant_id
    if asked is None or asked == "":
        return None
    if len(asked) > 40 or unit.catalogue.get_merchant(tenant_id, asked) is None:
        raise InvalidInput(f"no merchant {asked!r} in this shop", "issuer_merchant_id")
    return asked


def _manages(unit: MallUnitOfWork, who: Principal | None, collection: Collection) -> bool:
    if who is None or who.tenant_id != collection.tenant_id:
        return False
    if who.role == Role.ADMIN:
        return True
    if who.role != Role.MERCHANT or collection.issuer_merchant_id is None:
        return False
    own = unit.catalogue.merchant_of_owner(collection.tenant_id, who.subject_id)
    return own is not None and own.merchant_id == collection.issuer_merchant_id


def find(
    unit: MallUnitOfWork, tenant_id: str, collection_id: str, *, lock: bool = False
) -> Collection:
    found = (
        unit.nfg.get_collection(tenant_id, collection_id, for_update=lock)
        if len(collection_id) <= 40
        else None
    )
    if found is None:
        raise NotFound(f"no collection {collection_id!r}", "collection_id")
    return found


def managed(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    *,
    lock: bool = False,
) -> tuple[Principal, Collection]:
    """The collection, if the caller (an admin or its issuing merchant) manages it."""
    who = require(caller, tenant_id, ISSUERS)
    found = find(unit, tenant_id, collection_id, lock=lock)
    if not _manages(unit, who, found):
        raise NotFound(f"no collection {collection_id!r}", "collection_id")
    return who, found


def _log_definition(
    unit: MallUnitOfWork, config: LogConfig, collection: Collection, now: datetime
) -> None:
    appending.record(
        unit.log, config, collection.tenant_id, [events.collection_created(collection)], now
    )


def create(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    given: NewCollection,
    *,
    config: LogConfig,
    now: datetime,
) -> Collection:
    who = require(caller, tenant_id, ISSUERS)
    issuer = _issuer(unit, who, tenant_id, given.issuer_merchant_id)
    asset = checks.price_asset(given.price_asset)
    starts, ends = checks.window(given.sale_starts_at, given.sale_ends_at)
    allowed = checks.allow_list(unit, tenant_id, given.allow_list)
    collection = Collection(
        tenant_id=tenant_id,
        collection_id=ids.new_id("col"),
        name=checks.name(given.name),
        description=checks.description(given.description),
        issuer_merchant_id=issuer,
        edition_size=checks.edition_size(given.edition_size),
        price=checks.price(given.price, asset),
        price_asset=asset,
        per_user_limit=checks.per_user_limit(given.per_user_limit),
        rights=checks.rights(unit, tenant_id, given.rights, issuer),
        status=CollectionStatus.DRAFT,
        created_at=now,
        sale_starts_at=starts,
        sale_ends_at=ends,
        allow_list_only=bool(allowed),
        linked_sku_id=checks.linked_sku(unit, tenant_id, given.linked_sku_id, issuer),
        media_id=checks.media(unit, tenant_id, given.media_id),
    )
    unit.nfg.add_collection(collection)
    if allowed:
        unit.nfg.set_allow_list(tenant_id, collection.collection_id, allowed)
    _log_definition(unit, config, collection, now)
    return collection


EDITABLE = frozenset(
    {
        "name",
        "description",
        "edition_size",
        "price",
        "price_asset",
        "per_user_limit",
        "sale_starts_at",
        "sale_ends_at",
        "allow_list",
        "linked_sku_id",
        "rights",
        "media_id",
    }
)


def edit(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    changes: Mapping[str, object],
    *,
    config: LogConfig,
    now: datetime,
) -> Collection:
    """Change the fields given while the collection is a draft."""
    who, old = managed(unit, caller, tenant_id, collection_id, lock=True)
    _move(old, "edit", who)
    unknown = set(changes) - EDITABLE
    if unknown:
        field = sorted(unknown)[0]
        raise InvalidInput(f"{field} cannot be changed", field)
    if not changes:
        raise InvalidInput("give at least one field to change", "name")
    issuer = old.issuer_merchant_id
    new = old
    if "name" in changes:
        new = replace(new, name=checks.name(changes["name"]))
    if "description" in changes:
        new = replace(new, description=checks.description(changes["description"]))
    if "edition_size" in changes:
        new = replace(new, edition_size=checks.edition_size(changes["edition_size"]))
    if "per_user_limit" in changes:
        new = replace(new, per_user_limit=checks.per_user_limit(changes["per_user_limit"]))
    asset = old.price_asset
    if "price_asset" in changes:
        asset = checks.price_asset(changes["price_asset"])
    if "price" in changes:
        new = replace(new, price=checks.price(changes["price"], asset), price_asset=asset)
    elif asset != old.price_asset:
        raise InvalidInput("give the price in the new price_asset too", "price")
    if "sale_starts_at" in changes or "sale_ends_at" in changes:
        starts = changes.get("sale_starts_at", old.sale_starts_at)
        ends = changes.get("sale_ends_at", old.sale_ends_at)
        assert starts is None or isinstance(starts, datetime)
        assert ends is None or isinstance(ends, datetime)
        starts, ends = checks.window(starts, ends)
        new = replace(new, sale_starts_at=starts, sale_ends_at=ends)
    if "linked_sku_id" in changes:
        new = replace(
            new, linked_sku_id=checks.linked_sku(unit, tenant_id, changes["linked_sku_id"], issuer)
        )
    if "rights" in changes:
        new = replace(new, rights=checks.rights(unit, tenant_id, changes["rights"], issuer))
    if "media_id" in changes:
        new = replace(new, media_id=checks.media(unit, tenant_id, changes["media_id"]))
    if "allow_list" in changes:
        raw = changes["allow_list"]
        if not isinstance(raw, list | tuple):
            raise InvalidInput("allow_list must be a list of user ids", "allow_list")
        allowed = checks.allow_list(unit, tenant_id, raw)
        unit.nfg.set_allow_list(tenant_id, collection_id, allowed)
        new = replace(new, allow_list_only=bool(allowed))
    values = _changed(old, new)
    if values:
        unit.nfg.set_collection_fields(tenant_id, collection_id, values)
    if set(values) & LOGGED:
        _log_definition(unit, config, new, now)
    return find(unit, tenant_id, collection_id)


# What the log's collection_created event carries: an edit of one of these is logged again.
LOGGED = frozenset(
    {"name", "edition_size", "price", "price_asset", "rights", "linked_sku_id", "issuer"}
)

_FIELDS = (
    "name",
    "description",
    "edition_size",
    "price",
    "price_asset",
    "per_user_limit",
    "sale_starts_at",
    "sale_ends_at",
    "allow_list_only",
    "linked_sku_id",
    "rights",
    "media_id",
)


def _changed(old: Collection, new: Collection) -> dict[str, object]:
    return {f: getattr(new, f) for f in _FIELDS if getattr(old, f) != getattr(new, f)}


def _move(collection: Collection, action: str, who: Principal) -> CollectionStatus:
    try:
        return lifecycle.COLLECTION.check(collection.status, action, actor(who), doing=action)
    except TransitionRefused as refused:
        raise Conflict(str(refused), "status") from None


def set_status(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    collection_id: str,
    action: str,
) -> Collection:
    """``publish`` a draft (admins) or ``close`` a published collection."""
    who, found = managed(unit, caller, tenant_id, collection_id, lock=True)
    status = _move(found, action, who)
    unit.nfg.set_collection_fields(tenant_id, collection_id, {"status": status})
    return find(unit, tenant_id, collection_id)


def get(
    unit: MallUnitOfWork, caller: Principal | None, tenant_id: str, collection_id: str
) -> Collection:
    """A published collection (anyone), or any the caller manages."""
    found = unit.nfg.get_collection(tenant_id, collection_id) if len(collection_id) <= 40 else None
    if found is None or (
        found.status != CollectionStatus.PUBLISHED and not _manages(unit, caller, found)
    ):
        raise NotFound(f"no collection {collection_id!r}", "collection_id")
    return found


def listing(
    unit: MallUnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    *,
    after: str | None,
    limit: int,
) -> list[Collection]:
    """Published collections for everyone; an admin sees all, a merchant also its own."""
    if not unit.log.tenant_exists(tenant_id):
        raise NotFound(f"no tenant {tenant_id!r}")
    mine = caller is not None and caller.tenant_id == tenant_id
    if mine and caller is not None and caller.role == Role.ADMIN:
        return unit.nfg.list_collections(tenant_id, after=after, limit=limit)
    if mine and caller is not None and caller.role == Role.MERCHANT:
        found = unit.nfg.list_collections(tenant_id, after=after, limit=limit)
        return [
            c for c in found if c.status == CollectionStatus.PUBLISHED or _manages(unit, caller, c)
        ]
    return unit.nfg.list_collections(
        tenant_id, statuses=[CollectionStatus.PUBLISHED], after=after, limit=limit
    )


def price_text(collection: Collection) -> str:
    return checks.format_price(collection.price, collection.price_asset)
