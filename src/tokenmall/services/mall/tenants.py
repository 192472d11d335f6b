"""Tenants: created by a platform operator, each with its own validated economy parameters.

Parameters are validated by ``Params.updated`` (the single validator, domain/economy/params.py)
and kept by the ledger (the unit's ``tenant_ledger``): creating a tenant creates its ledger and
a change is the ledger's audited ``ChangeParams`` command (a journal, a row of
``tenant_params`` with who made it), both inside the unit. The mall adds only the tenant's name.
Each use case takes a ``UnitOfWork`` and answers the domain's records (``Tenant``,
``ParamsChange``).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tokenmall.domain.economy.params import PRESETS, Params
from tokenmall.domain.economy.purchase import check_fixed_contribution, fixed_contribution_limit
from tokenmall.domain.errors import DomainError, InvalidParameter
from tokenmall.domain.ledger import commands
from tokenmall.domain.mall.catalogue import Sku
from tokenmall.domain.mall.people import Role, User
from tokenmall.domain.mall.tenants import ParamsChange, Tenant
from tokenmall.domain.money import format_money
from tokenmall.services.mall import people, validate
from tokenmall.services.mall.auth import Principal, require, require_operator
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.unit_of_work import UnitOfWork


@dataclass(frozen=True, slots=True)
class NewTenant:
    tenant_id: str
    name: str
    preset: str
    params: dict[str, Any]
    admin_email: str
    admin_password: str
    admin_display_name: str


def parse_params(base: Params, changes: dict[str, Any]) -> Params:
    try:
        return base.updated(changes)
    except InvalidParameter as exc:
        raise InvalidInput(str(exc), f"params.{exc.field}") from None


def create(
    uow: UnitOfWork, caller: Principal | None, new: NewTenant, now: datetime
) -> tuple[Tenant, User]:
    operator = require_operator(caller)
    tenant_id = validate.tenant_id(new.tenant_id)
    name = validate.text(new.name, "name", max_length=200)
    if new.preset not in PRESETS:
        raise InvalidInput(f"unknown preset {new.preset!r} (known: {', '.join(PRESETS)})", "preset")
    params = parse_params(PRESETS[new.preset], new.params)
    if uow.tenants.exists(tenant_id):
        raise Conflict(f"tenant {tenant_id!r} already exists", "tenant_id")
    uow.tenant_ledger.create(tenant_id, params, operator.subject_id)
    uow.tenants.add(tenant_id, name, now)
    admin = people.add_user(
        uow,
        tenant_id,
        email=new.admin_email,
        password=new.admin_password,
        display_name=new.admin_display_name,
        role=Role.ADMIN,
        inviter=None,
        now=now,
        field_prefix="admin.",
    )
    tenant = uow.tenants.get(tenant_id)
    assert tenant is not None
    return tenant, admin


def get_for_operator(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> Tenant:
    require_operator(caller)
    tenant = uow.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant


def get_for_member(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> Tenant:
    """Any member of a tenant may read its rules (the economy is public to its users)."""
    require(caller, tenant_id, (Role.CONSUMER, Role.MERCHANT, Role.ADMIN))
    tenant = uow.tenants.get(tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {tenant_id!r}")
    return tenant


def list_all(
    uow: UnitOfWork, caller: Principal | None, after: str | None, limit: int
) -> list[Tenant]:
    require_operator(caller)
    return uow.tenants.list_all(after, limit)


def directory(uow: UnitOfWork, limit: int) -> list[Tenant]:
    """The platform's malls by id, for anyone (the site's root lists them): names only."""
    return uow.tenants.list_all(None, limit)


def update_params(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    changes: dict[str, Any],
    expected_version: int | None,
    request_key: str,
) -> Tenant:
    """The platform operator applies ``changes`` to any tenant (see ``_apply``)."""
    operator = require_operator(caller)
    return _apply(uow, operator, tenant_id, changes, expected_version, request_key)


def admin_update_params(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    changes: dict[str, Any],
    expected_version: int | None,
    request_key: str,
) -> Tenant:
    """A tenant's admin applies ``changes`` to their own tenant (another tenant's admin: 404;
    consumers and merchants: 403); the same validation and audited command as the operator's,
    with the admin as ``changed_by``."""
    admin = require(caller, tenant_id, (Role.ADMIN,))
    return _apply(uow, admin, tenant_id, changes, expected_version, request_key)


def _apply(
    uow: UnitOfWork,
    who: Principal,
    tenant_id: str,
    changes: dict[str, Any],
    expected_version: int | None,
    request_key: str,
) -> Tenant:
    """Apply ``changes`` through the ledger's audited command; the whole set is validated.

    ``expected_version`` guards against two people editing at once (optimistic check);
    ``request_key`` (the HTTP Idempotency-Key, scoped to the caller) keys the ledger journal.
    """
    if not uow.tenants.is_mall_tenant(tenant_id):
        raise NotFound(f"no tenant {tenant_id!r}")
    if not changes:
        raise InvalidInput("give at least one parameter to change", "params")
    uow.tenant_ledger.lock(tenant_id)
    current, version = uow.tenant_ledger.params(tenant_id)
    if expected_version is not None and expected_version != version:
        raise Conflict(
            f"parameters are at version {version}, not {expected_version}", "params_version"
        )
    new = parse_params(current, changes)  # the engine's validation, to name the field
    _refuse_unpayable_skus(uow, tenant_id, new, changes)
    digest = hashlib.sha256(f"{who.scope}:{request_key}".encode()).hexdigest()
    try:
        command = commands.ChangeParams(
            tenant_id=tenant_id,
            idempotency_key=f"mall-params:{digest}",
            changes=changes,
            changed_by=who.subject_id,
        )
        uow.tenant_ledger.change_params(command)
    except InvalidParameter as exc:
        raise InvalidInput(str(exc), f"params.{exc.field}") from None
    except DomainError as exc:
        raise InvalidInput(str(exc), "params") from None
    updated = uow.tenants.get(tenant_id)
    assert updated is not None
    return updated


# The parameters a SKU's fixed pool contribution must leave room for.
_BOOKING_SHARES = ("dividend_rate", "commission_rates")


def unpayable_skus(uow: UnitOfWork, tenant_id: str, params: Params) -> list[Sku]:
    """The tenant's SKUs whose fixed contribution ``params`` would leave unbookable."""
    found: list[Sku] = []
    for sku in uow.catalogue.skus_with_contribution(tenant_id):
        assert sku.pool_contribution_fen is not None
        try:
            check_fixed_contribution(params, sku.price_fen, sku.pool_contribution_fen)
        except DomainError:
            found.append(sku)
    return found


def _refuse_unpayable_skus(
    uow: UnitOfWork, tenant_id: str, new: Params, changes: dict[str, Any]
) -> None:
    """Refuse a change that would leave SKUs whose orders could be paid but never booked
    (their fixed contribution no longer leaves room for the dividend share and commissions),
    naming the changed parameter and listing the SKUs."""
    broken = unpayable_skus(uow, tenant_id, new)
    if not broken:
        return
    field = next((f"params.{name}" for name in changes if name in _BOOKING_SHARES), "params")
    listed = ", ".join(
        f"{sku.sku_id} (price {format_money(sku.price_fen)}, pool contribution "
        f"{format_money(sku.pool_contribution_fen or 0)}, at most "
        f"{format_money(fixed_contribution_limit(new, sku.price_fen))})"
        for sku in broken[:_LISTED]
    )
    more = f" and {len(broken) - _LISTED} more" if len(broken) > _LISTED else ""
    raise InvalidInput(
        f"this change would leave {len(broken)} SKU(s) that can be paid but never booked: "
        f"{listed}{more}; lower their pool contributions first",
        field,
    )


_LISTED = 20


def params_history(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> list[ParamsChange]:
    require_operator(caller)
    if not uow.tenants.is_mall_tenant(tenant_id):
        raise NotFound(f"no tenant {tenant_id!r}")
    return uow.tenants.params_history(tenant_id)


def admin_params_history(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str
) -> list[ParamsChange]:
    """The same history for the tenant's own admins."""
    require(caller, tenant_id, (Role.ADMIN,))
    if not uow.tenants.is_mall_tenant(tenant_id):
        raise NotFound(f"no tenant {tenant_id!r}")
    return uow.tenants.params_history(tenant_id)
