"""A tenant's payment channels: which are on, their key sets, and the gateway each one makes.

A channel's adapter registers under its name (``ChannelKind``: how to check a key set, how to
test it against the channel, how to make its gateway); the composition root fills the
``Registry`` (the sandbox, WeChat Pay, and Alipay when its adapter is there). A key set is
checked by its adapter, then sealed under the deployment's secret and never shown again (only
its ``public`` part: ids, serials, masks). Saving a new key set keeps the one it replaces for a
grace period, during which callbacks signed or encrypted with either are taken.

Without a row, the sandbox is on exactly when the deployment allows it (development and the
demo) and every real channel is off.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Any, Protocol

from tokenmall.domain.mall.channels import CHANNELS, DEFAULT_GRACE, MAX_GRACE_HOURS, ChannelRow
from tokenmall.domain.mall.gateway import ChannelError
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.mall.gateway import (
    NO_GATEWAY_MESSAGE,
    ChannelSet,
    Gateway,
    GatewayUnavailable,
    NoGateway,
)
from tokenmall.services.mall.kyc import Sealer

ADMINS = (Role.ADMIN,)
SANDBOX = "sandbox"


class ChannelRows(Protocol):
    def of_tenant(self, tenant_id: str) -> list[ChannelRow]: ...

    def switched_on(self) -> list[ChannelRow]:
        """Every tenant's channels switched on, by tenant and channel."""
        ...

    def get(
        self, tenant_id: str, channel: str, *, for_update: bool = False
    ) -> ChannelRow | None: ...

    def put(self, row: ChannelRow, *, new: bool) -> None: ...


class ChannelsUnit(Protocol):
    @property
    def channels(self) -> ChannelRows: ...


@dataclass(frozen=True, slots=True)
class GatewayContext:
    """What a channel's gateway is made from: the tenant, its opened key sets, and where the
    channel sends the payer back and its callbacks."""

    tenant_id: str
    mode: str | None
    keys: dict[str, Any]
    previous: dict[str, Any] | None
    base_url: str


@dataclass(frozen=True, slots=True)
class ChannelKind:
    """A channel's adapter. ``check``: a key set's fields -> (what may be shown, the whole set
    to seal), or ``ChannelError`` naming the field; ``test``: ask the channel whether the set
    works ("test connection"), a sentence when it does; ``build``: the gateway."""

    build: Callable[[GatewayContext], Gateway]
    check: Callable[[dict[str, Any]], tuple[dict[str, Any], dict[str, Any]]] | None = None
    test: Callable[[dict[str, Any]], str] | None = None
    modes: tuple[str, ...] = ()
    needs_keys: bool = True


CACHED_GATEWAYS = 256


@dataclass(slots=True)
class Registry:
    """Channel name -> its adapter; ``sandbox_on``: the deployment allows the sandbox.

    A gateway made from a key set is kept (``built``, keyed by the sealed key sets themselves,
    so a rotation makes a new one): loading an RSA private key checks it, which costs a tenth
    of a second, too much for every checkout and callback."""

    sealer: Sealer
    sandbox_on: bool
    kinds: dict[str, ChannelKind] = field(default_factory=dict)
    built: dict[tuple[object, ...], Gateway] = field(default_factory=dict)

    def register(self, name: str, kind: ChannelKind) -> None:
        if name not in CHANNELS:
            raise ValueError(f"unknown channel {name!r}")
        self.kinds[name] = kind

    def kind(self, name: str) -> ChannelKind:
        found = self.kinds.get(name)
        if found is None:
            raise NotFound(f"no payment channel {name!r} in this deployment", "channel")
        return found


@dataclass(frozen=True, slots=True)
class ChannelView:
    channel: str
    available: bool  # this deployment has the channel's adapter (and, sandbox: allows it)
    enabled: bool
    configured: bool  # a key set is stored
    mode: str | None
    settings: dict[str, Any]
    previous_until: datetime | None  # the replaced key set still verifies callbacks until


def _associated(channel: str) -> bytes:
    return f"payment channel {channel}".encode()


def _view(registry: Registry, name: str, row: ChannelRow | None, now: datetime) -> ChannelView:
    available = name in registry.kinds and (name != SANDBOX or registry.sandbox_on)
    if row is None:
        return ChannelView(name, available, name == SANDBOX and available, False, None, {}, None)
    return ChannelView(
        channel=name,
        available=available,
        enabled=row.enabled and available,
        configured=row.sealed is not None,
        mode=row.mode,
        settings=json.loads(row.public),
        previous_until=row.previous_until if row.previous_valid(now) else None,
    )


def list_channels(
    uow: ChannelsUnit, caller: Principal | None, tenant_id: str, registry: Registry, now: datetime
) -> list[ChannelView]:
    require(caller, tenant_id, ADMINS)
    rows = {r.channel: r for r in uow.channels.of_tenant(tenant_id)}
    return [_view(registry, name, rows.get(name), now) for name in CHANNELS]


def enabled_channels(
    uow: ChannelsUnit, tenant_id: str, registry: Registry, now: datetime
) -> list[str]:
    """The channels a shopper of the tenant may pay through now (the sandbox last)."""
    return _enabled({r.channel: r for r in uow.channels.of_tenant(tenant_id)}, registry, now)


def _enabled(rows: dict[str, ChannelRow], registry: Registry, now: datetime) -> list[str]:
    on = [
        name
        for name in CHANNELS
        if _view(registry, name, rows.get(name), now).enabled
        and (name == SANDBOX or rows[name].sealed is not None)
    ]
    return sorted(on, key=lambda name: name == SANDBOX)


def configure(
    uow: ChannelsUnit,
    caller: Principal | None,
    tenant_id: str,
    channel: str,
    registry: Registry,
    now: datetime,
    *,
    enabled: bool,
    mode: str | None,
    keys: dict[str, Any] | None,
    grace_hours: int | None,
) -> ChannelView:
    """Switch a channel on or off, choose its mode, and (``keys``) save a new key set, the
    one it replaces kept for ``grace_hours`` (default 72) to verify callbacks in flight."""
    who = require(caller, tenant_id, ADMINS)
    kind = registry.kind(channel)
    if channel == SANDBOX and enabled and not registry.sandbox_on:
        raise Conflict("this deployment does not allow the sandbox gateway", "enabled")
    if mode is not None and mode not in kind.modes:
        allowed = ", ".join(kind.modes) or "none"
        raise InvalidInput(f"mode must be one of: {allowed}", "mode")
    if grace_hours is not None and not 0 <= grace_hours <= MAX_GRACE_HOURS:
        raise InvalidInput(f"grace_hours must be 0 to {MAX_GRACE_HOURS}", "grace_hours")
    if keys is not None and (not kind.needs_keys or kind.check is None):
        raise InvalidInput(f"the {channel} channel takes no keys", "keys")
    row = uow.channels.get(tenant_id, channel, for_update=True)
    new = row is None
    if row is None:
        row = ChannelRow(tenant_id, channel, False, None, "{}", None, None, None, None, now)
    if keys is not None:
        assert kind.check is not None
        try:
            public, secrets = kind.check(keys)
        except ChannelError as exc:
            raise InvalidInput(str(exc), exc.field) from None
        sealed = registry.sealer.seal(tenant_id, json.dumps(secrets).encode(), _associated(channel))
        grace = DEFAULT_GRACE if grace_hours is None else timedelta(hours=grace_hours)
        row = replace(
            row,
            public=json.dumps(public, sort_keys=True),
            sealed=sealed,
            previous_sealed=row.sealed if grace else None,
            previous_until=now + grace if row.sealed is not None and grace else None,
        )
    if enabled and kind.needs_keys and row.sealed is None:
        raise Conflict(f"save the {channel} keys before switching it on", "keys")
    row = replace(
        row,
        enabled=enabled,
        mode=mode if mode is not None else row.mode or (kind.modes[0] if kind.modes else None),
        updated_by=who.subject_id,
        updated_at=now,
    )
    uow.channels.put(row, new=new)
    return _view(registry, channel, row, now)


def _opened(registry: Registry, row: ChannelRow, sealed: bytes) -> dict[str, Any]:
    plain = registry.sealer.open(row.tenant_id, sealed, _associated(row.channel))
    found = json.loads(plain)
    assert isinstance(found, dict)
    return found


def check_channel(
    uow: ChannelsUnit, caller: Principal | None, tenant_id: str, channel: str, registry: Registry
) -> str:
    """Ask the channel whether the stored key set works; ``ChannelError`` saying what to fix."""
    require(caller, tenant_id, ADMINS)
    kind = registry.kind(channel)
    if kind.test is None:
        return f"the {channel} channel needs no connection"
    row = uow.channels.get(tenant_id, channel)
    if row is None or row.sealed is None:
        raise Conflict(f"no {channel} keys are saved yet", "keys")
    return kind.test(_opened(registry, row, row.sealed))


def gateway_of(
    uow: ChannelsUnit,
    tenant_id: str,
    channel: str,
    registry: Registry,
    base_url: str,
    now: datetime,
    *,
    for_callbacks: bool = False,
) -> Gateway:
    """The tenant's gateway for ``channel``: refused (409, never a 500) when it is off, has no
    keys, or its keys cannot be loaded. ``for_callbacks``: also a channel switched off since
    (callbacks of payments it opened, and their refunds, are still taken)."""
    rows = {r.channel: r for r in uow.channels.of_tenant(tenant_id)}
    return _gateway(rows, tenant_id, channel, registry, base_url, now, for_callbacks)


def _gateway(
    rows: dict[str, ChannelRow],
    tenant_id: str,
    channel: str,
    registry: Registry,
    base_url: str,
    now: datetime,
    for_callbacks: bool,
) -> Gateway:
    row = rows.get(channel)
    view = _view(registry, channel, row, now)
    if not view.available or not (view.enabled or (for_callbacks and view.configured)):
        raise GatewayUnavailable(
            f"the {channel} payment channel is not switched on", "payment_method"
        )
    kind = registry.kind(channel)
    if not kind.needs_keys:
        return kind.build(GatewayContext(tenant_id, None, {}, None, base_url))
    if row is None or row.sealed is None:
        raise GatewayUnavailable(NO_GATEWAY_MESSAGE, "payment_method")
    keep_previous = row.previous_sealed is not None and row.previous_valid(now)
    key = (tenant_id, channel, row.mode, base_url, row.sealed, keep_previous, row.previous_sealed)
    found = registry.built.get(key)
    if found is not None:
        return found
    try:
        previous = (
            _opened(registry, row, row.previous_sealed)
            if row.previous_sealed is not None and keep_previous
            else None
        )
        context = GatewayContext(
            tenant_id, row.mode, _opened(registry, row, row.sealed), previous, base_url
        )
        made = kind.build(context)
        if len(registry.built) >= CACHED_GATEWAYS:
            registry.built.clear()  # rare (that many key sets in use): made again as needed
        registry.built[key] = made
        return made
    except (ChannelError, ValueError) as exc:  # a key set that no longer opens or loads
        raise GatewayUnavailable(
            f"the {channel} payment channel is misconfigured: {exc}", "payment_method"
        ) from None


def tenant_gateway(
    uow: ChannelsUnit,
    tenant_id: str,
    registry: Registry,
    base_url: str,
    now: datetime,
    channel: str | None = None,
) -> Gateway:
    """The gateway an order's payment opens with: ``channel`` if given (it must be on), else
    the tenant's first enabled channel (a real one before the sandbox), else ``NoGateway``.
    Refunds through it reach the channel that took the money (``ChannelSet``)."""
    rows = {r.channel: r for r in uow.channels.of_tenant(tenant_id)}
    if channel is not None and channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of: {', '.join(CHANNELS)}", "channel")
    if channel is None:
        on = _enabled(rows, registry, now)  # the rows just read, not read again
        if not on:
            first: Gateway = NoGateway()
        else:
            first = _gateway(rows, tenant_id, on[0], registry, base_url, now, False)
    else:
        first = _gateway(rows, tenant_id, channel, registry, base_url, now, False)
    return ChannelSet(
        first, lambda name: _gateway(rows, tenant_id, name, registry, base_url, now, True)
    )


@dataclass(frozen=True, slots=True)
class ChannelProblem:
    """A channel switched on whose gateway cannot be made: what is wrong, in words."""

    tenant_id: str
    channel: str
    problem: str


def check_switched_on(
    uow: ChannelsUnit, registry: Registry, base_url: str, now: datetime
) -> list[ChannelProblem]:
    """Every tenant's channels switched on, each gateway made as a checkout would make it (its
    key sets opened under the deployment's secret and loaded): what cannot be, and why. Made
    gateways are kept in the registry, so the first checkouts after start find them ready."""
    rows = uow.channels.switched_on()
    by_tenant: dict[str, dict[str, ChannelRow]] = {}
    for row in rows:
        by_tenant.setdefault(row.tenant_id, {})[row.channel] = row
    found = []
    for row in rows:
        if not _view(registry, row.channel, row, now).available:
            continue  # an adapter this deployment lacks (or the sandbox, not allowed here)
        try:
            _gateway(
                by_tenant[row.tenant_id], row.tenant_id, row.channel, registry, base_url, now, False
            )
        except GatewayUnavailable as exc:
            found.append(ChannelProblem(row.tenant_id, row.channel, str(exc)))
    return found
