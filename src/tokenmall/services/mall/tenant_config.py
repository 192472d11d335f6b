"""A tenant's configuration as a checkout reads it, cached per process against ONE version
read.

A checkout reads the tenant's payment channels (which gateway takes the money), its
collections' rights (``may_buy`` gates, discounts), its economy parameters (whether a SKU's
contribution is payable) and its order settings (the payment's time limit): four statements a
request for data that changes rarely. Here they are read once per process and version: the
tenant's ``config_version`` (bumped in the same transaction as any change to the channels, the
rights' collections or the order settings: ``adapters/db/mall/config_version.py``) and its
``params_version`` (bumped by the ledger with every parameters change) are read in one
statement, and the cached copy is used only when both match. A change committed by any
process is seen by the next checkout that reads the new version; nothing is invalidated
locally, so this process and another are in the same position.

The configuration is read after the version, so a cached copy is never older than the version
it is kept under. A tenant without the version's row is read as before, uncached.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from tokenmall.adapters.db.mall import config_version
from tokenmall.adapters.db.mall.orders import get_settings
from tokenmall.adapters.db.mall.payment_channels import SqlPaymentChannels
from tokenmall.adapters.db.nfg.holder_rights import (
    RightsCollection,
    buyer_rights,
    rights_collections,
)
from tokenmall.adapters.db.store import Store
from tokenmall.domain.economy.params import Params
from tokenmall.domain.mall.channels import ChannelRow
from tokenmall.domain.mall.orders import OrderSettings
from tokenmall.domain.nfg.holders import BuyerRights


@dataclass(frozen=True, slots=True)
class Config:
    """A tenant's configuration at (parameters version, configuration version)."""

    versions: tuple[int, int]
    channels: tuple[ChannelRow, ...]
    collections: tuple[RightsCollection, ...]
    settings: OrderSettings
    params: Params


# Per engine (one database), per tenant: the last configuration read.
_CACHE: weakref.WeakKeyDictionary[Engine, dict[str, Config]] = weakref.WeakKeyDictionary()


def current(uow: Any, tenant_id: str) -> Config | None:
    """The tenant's configuration: the version read on ``uow``'s connection, the rest from
    the cache when it holds that version, else read (and cached); None without the version's
    row."""
    conn = uow.conn
    known = getattr(uow, "tenant_versions", None)  # read already with others (checkout_unit)
    if known is not None and tenant_id in known:
        found = known[tenant_id]
    else:
        found = config_version.versions(conn, tenant_id)
    if found is None:
        return None
    cache = _CACHE.get(conn.engine)
    if cache is None:
        cache = _CACHE.setdefault(conn.engine, {})
    config = cache.get(tenant_id)
    if config is not None and config.versions == found:
        return config
    config = Config(
        found,
        tuple(SqlPaymentChannels(conn).of_tenant(tenant_id)),
        tuple(rights_collections(conn, tenant_id)),
        get_settings(conn, tenant_id),
        Store(conn.engine).params_at(conn, tenant_id, found[0]),
    )
    cache[tenant_id] = config
    return config


def configured(uow: Any, tenant_id: str) -> Any:
    """``uow`` with the tenant's configuration read through the cache (``current``): its
    channels, its buyers' rights (the collections cached, the buyer's tokens read), its
    parameters and its order settings; everything else is ``uow``'s own."""
    config = current(uow, tenant_id)
    return uow if config is None else _Configured(uow, tenant_id, config)


class _Configured:
    def __init__(self, uow: Any, tenant_id: str, config: Config) -> None:
        self._uow = uow
        self.conn = uow.conn
        self.channels = _Channels(uow.channels, tenant_id, config)
        self.holder_rights = _Rights(uow, tenant_id, config)
        self.params = _Params(uow.params, tenant_id, config)
        self.orders = _Orders(uow.orders, tenant_id, config)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._uow, name)


class _Port:
    def __init__(self, real: Any, tenant_id: str, config: Config) -> None:
        self._real, self._tenant_id, self._config = real, tenant_id, config

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Channels(_Port):
    def of_tenant(self, tenant_id: str) -> list[ChannelRow]:
        if tenant_id != self._tenant_id:
            return list(self._real.of_tenant(tenant_id))
        return list(self._config.channels)


class _Params(_Port):
    def of(self, tenant_id: str) -> Params:
        if tenant_id != self._tenant_id:
            found: Params = self._real.of(tenant_id)
            return found
        return self._config.params


class _Orders(_Port):
    def settings(self, tenant_id: str) -> OrderSettings:
        if tenant_id != self._tenant_id:
            found: OrderSettings = self._real.settings(tenant_id)
            return found
        return self._config.settings


class _Rights:
    def __init__(self, uow: Any, tenant_id: str, config: Config) -> None:
        self._uow, self._tenant_id, self._config = uow, tenant_id, config

    def of_buyer(self, tenant_id: str, user_id: str, sku_ids: Any) -> BuyerRights:
        if tenant_id != self._tenant_id:
            found: BuyerRights = self._uow.holder_rights.of_buyer(tenant_id, user_id, sku_ids)
            return found
        return buyer_rights(self._uow.conn, tenant_id, user_id, sku_ids, self._config.collections)
