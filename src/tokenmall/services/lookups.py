"""Reads the pages need that no use case answers: a tenant by id, the withdrawal rules every
member may see, and a member's identity check status."""

from __future__ import annotations

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.mall import tenants as tenants_repo
from tokenmall.adapters.db.mall import withdrawals as withdrawals_repo
from tokenmall.domain.mall.people import KycStatus
from tokenmall.domain.mall.tenants import Tenant
from tokenmall.domain.mall.withdrawals import Settings as WithdrawalRules

TENANT_ID_MAX = 32


def find_tenant(conn: Connection, tenant_id: str) -> Tenant | None:
    """The tenant, or None (an id longer than any tenant's is not looked up)."""
    return tenants_repo.get(conn, tenant_id) if len(tenant_id) <= TENANT_ID_MAX else None


def withdrawal_rules(conn: Connection, tenant_id: str) -> WithdrawalRules:
    """The tenant's withdrawal settings, as the member's withdrawal page states them."""
    return withdrawals_repo.get_settings(conn, tenant_id)


def kyc_status(conn: Connection, tenant_id: str, user_id: str) -> KycStatus | None:
    """The user's identity check status (None if there is no such user)."""
    user = people_repo.get_user(conn, tenant_id, user_id)
    return None if user is None else user.kyc_status
