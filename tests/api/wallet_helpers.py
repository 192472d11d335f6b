"""Helpers of the wallet, referral, commission and withdrawal API tests.

Points and cash are given to users by driving the ledger directly through ``order_ledger``
(``record_payment`` then ``book_rewards``, ``complete``, ``refund``) in one transaction, as the
mall's checkout and the integration API do; the API under test is then spoken to over HTTP.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from mall_api import Api, TenantFixture, login, ok
from sqlalchemy import select

from tokenmall.adapters.db.mall.commissions import commissions, debts, referral_rewards
from tokenmall.adapters.db.mall.withdrawals import (
    withdrawal_approvals,
    withdrawal_settings,
    withdrawals,
)
from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.tables import economy_state, holders, journals, postings
from tokenmall.domain.ledger import commands as c
from tokenmall.services.ledger.audit import audit
from tokenmall.services.ledger.execute import execute
from tokenmall.services.mall import order_ledger

TABLES = (
    economy_state,
    holders,
    journals,
    postings,
    commissions,
    referral_rewards,
    debts,
    withdrawals,
    withdrawal_approvals,
    withdrawal_settings,
)


def store_of(server: Any) -> Store:
    return Store(server.app.state.database.engine)


def now() -> datetime:
    return datetime.now(UTC)


def buy(store: Store, tenant_id: str, user: str, fen: int = 10_000, ref: str = "") -> str:
    """A paid order of ``fen`` whose rewards are booked; returns its order_ref."""
    ref = ref or f"ord_{uuid.uuid4().hex[:12]}"
    with store.transaction() as conn:
        order_ledger.record_payment(conn, tenant_id, user=user, order_ref=ref, amount_fen=fen)
        order_ledger.book_rewards(
            conn,
            tenant_id,
            user=user,
            order_ref=ref,
            amount_fen=fen,
            contribution_fen=None,
            now=now(),
        )
    return ref


def complete(store: Store, tenant_id: str, ref: str) -> None:
    with store.transaction() as conn:
        order_ledger.complete(conn, tenant_id, order_ref=ref, now=now())


def refund(store: Store, tenant_id: str, user: str, ref: str, fen: int) -> None:
    with store.transaction() as conn:
        order_ledger.refund(
            conn,
            tenant_id,
            user=user,
            order_ref=ref,
            amount_fen=fen,
            booked=True,
            approved_by="admin",
            now=now(),
        )


def settle(store: Store, tenant_id: str, day: date) -> dict[str, Any]:
    return execute(store, c.SettleDay(tenant_id=tenant_id, business_date=day))


def snapshot(store: Store, tenant_id: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of the tenant in the ledger's and these features' tables."""
    out: dict[str, list[tuple[Any, ...]]] = {}
    with store.read() as conn:
        for table in TABLES:
            key = list(table.primary_key.columns)
            rows = conn.execute(
                select(table).where(table.c.tenant_id == tenant_id).order_by(*key)
            ).all()
            out[table.name] = [tuple(r) for r in rows]
    return out


def audit_clean(store: Store, tenant_id: str) -> None:
    (report,) = audit(store, tenant_id)
    assert report.findings == []


def register(
    api: Api, tenant: TenantFixture, email: str, invite_code: str | None = None, name: str = ""
) -> tuple[str, str]:
    """A new consumer (optionally invited); returns (user_id, token)."""
    body: dict[str, Any] = {"email": email, "password": "password-123"}
    if invite_code is not None:
        body["invite_code"] = invite_code
    if name:
        body["display_name"] = name
    user = ok(api.post(tenant.path("/register"), json=body), 201)
    return user["user_id"], login(api, tenant.tenant_id, email, "password-123")


def invite_code(api: Api, tenant: TenantFixture, token: str) -> str:
    return str(ok(api.get(tenant.path("/me"), token))["invite_code"])


def verify_kyc(api: Api, tenant: TenantFixture, user_id: str) -> None:
    ok(
        api.patch(
            tenant.path(f"/users/{user_id}"), tenant.admin_token, json={"kyc_status": "verified"}
        )
    )


def second_admin(
    api: Api, tenant: TenantFixture, email: str = "admin2@shop.test"
) -> tuple[str, str]:
    user = ok(
        api.post(
            tenant.path("/users"),
            tenant.admin_token,
            json={"email": email, "password": "admin2-password", "role": "admin"},
        ),
        201,
    )
    return user["user_id"], login(api, tenant.tenant_id, email, "admin2-password")
