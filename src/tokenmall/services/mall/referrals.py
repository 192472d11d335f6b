"""Referrals: invite code and link, inviter, invitees, what referring earned.

The tree itself is the ledger's: registration with an invite code runs ``Join`` (bound once;
the engine refuses rebinding and cycles) in the registration's transaction, and
``mall_users.inviter_id`` records the same edge for the mall's pages. Referral points earned are
the purchase journals' grants of level ≥ 1 (indexed in ``mall_referral_rewards`` when each
order is booked); commissions and debts are ``mall_commissions`` / ``mall_debts``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select

from tokenmall.adapters.db.mall import commissions as repo
from tokenmall.adapters.db.mall import people as people_repo
from tokenmall.adapters.db.mall.tables import users
from tokenmall.adapters.db.store import Store
from tokenmall.domain.mall.people import Scope
from tokenmall.domain.money import format_money, format_points
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import NotFound
from tokenmall.services.mall.people import ADMIN, ALL

MAX_INVITEES = 200
MAX_COMMISSIONS = 50


def referrals(
    conn: Connection,
    caller: Principal | None,
    tenant_id: str,
    base_url: str,
    user_id: str | None = None,
    invitee_limit: int = 50,
) -> dict[str, Any]:
    """The caller's referral view (admins: any user's)."""
    who = require(caller, tenant_id, ALL if user_id is None else ADMIN, scope=Scope.READ)
    subject = who.subject_id if user_id is None else user_id
    user = people_repo.get_user(conn, tenant_id, subject)
    if user is None:
        raise NotFound(f"no user {subject!r}")
    inviter = (
        None if user.inviter_id is None else people_repo.get_user(conn, tenant_id, user.inviter_id)
    )
    holder = Store(conn.engine).load_holders(conn, tenant_id, [subject])
    ledger_referrer = holder[0].referrer if holder else None
    rows = conn.execute(
        select(users.c.display_name, users.c.created_at)
        .where(users.c.tenant_id == tenant_id, users.c.inviter_id == subject)
        .order_by(users.c.user_id)
        .limit(min(invitee_limit, MAX_INVITEES))
    ).all()
    rewards = repo.reward_totals(conn, tenant_id, subject)
    totals = repo.commission_totals(conn, tenant_id, subject)
    recent = repo.commissions_of(conn, tenant_id, subject, MAX_COMMISSIONS)
    path = f"/{quote(tenant_id)}/register?invite={quote(user.invite_code)}"
    return {
        "user_id": subject,
        "invite_code": user.invite_code,
        "invite_path": path,
        "invite_url": base_url.rstrip("/") + path,
        "inviter": None
        if inviter is None
        else {"user_id": inviter.user_id, "display_name": inviter.display_name},
        "bound_in_ledger": ledger_referrer is not None and ledger_referrer == user.inviter_id,
        "invitees": [{"display_name": r.display_name, "joined_at": r.created_at} for r in rows],
        "referral_points": {
            "total": format_points(sum(rewards.values())),
            "by_level": [
                {"level": level, "points": format_points(units)}
                for level, units in sorted(rewards.items())
            ],
        },
        "commissions": {
            "frozen": format_money(totals["frozen"]),
            "released": format_money(totals["released"]),
            "clawed_back": format_money(totals["clawed_back"]),
            "clawed_from_cash": format_money(totals["from_cash"]),
            "clawed_into_debt": format_money(totals["debt"]),
            "recent": [
                {
                    "order_ref": r.order_ref,
                    "level": r.level,
                    "amount": format_money(r.amount_fen),
                    "status": r.status,
                    "debt": None if r.debt_fen is None else format_money(r.debt_fen),
                    "created_at": r.created_at,
                }
                for r in recent
            ],
        },
        "debt": format_money(repo.debt_of(conn, tenant_id, subject)),
    }
