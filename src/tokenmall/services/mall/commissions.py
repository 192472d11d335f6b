"""Distribution commissions (issue 4 item 6): at most 3 levels, frozen until the order completes.

Hooks called by ``order_ledger`` inside the order's transaction, so an order's state, its
journals and these rows commit together (or not at all):

- ``on_booked``: the order's rewards were booked. Its referral point grants (levels ≥ 1 of the
  purchase journal) are indexed in ``mall_referral_rewards``; if the tenant has
  ``commission_rates``, ``FreezeCommissions`` sets ``floor(amount × rate_k)`` aside from revenue
  for each of the buyer's referrers up the ledger's chain (at most 3 levels: the engine's hard
  limit) and each commission is recorded ``frozen``.
- ``on_completed``: ``ReleaseCommissions`` pays the frozen ones to the referrers' cash.
- ``on_refunded``: ``ClawbackCommissions``: frozen ones return to revenue; released ones come
  out of the referrer's cash and what the cash cannot cover is recorded as their debt
  (``mall_debts``), never silently capped. Debts are repaid before any withdrawal.

Every ledger step has a key derived from the order (``order:<ref>:commission_freeze`` …), so
running a hook twice changes nothing. Tenants without ``commission_rates`` get no commissions.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import commissions as repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.money import parse_money, parse_points
from tokenmall.services import commands as c
from tokenmall.services import ledger


def _key(order_ref: str, step: str) -> str:
    return f"order:{order_ref}:{step}"


def _run(conn: Connection, command: c.Command) -> dict[str, Any]:
    return ledger.execute_in(Store(conn.engine), conn, command)


def on_booked(
    conn: Connection,
    tenant_id: str,
    *,
    order_ref: str,
    buyer: str,
    amount_fen: int,
    revenue_fen: int,
    now: datetime,
) -> None:
    """The order's rewards were just booked: index its referral grants and freeze its
    commissions (``FreezeCommissions``)."""
    store = Store(conn.engine)
    _index_referral_rewards(store, conn, tenant_id, order_ref, buyer, now)
    params, _ = store.load_params(conn, tenant_id)
    if not params.commission_rates:
        return
    if repo.order_commissions(conn, tenant_id, order_ref):
        return  # already frozen (a replay of the booking)
    result = _run(
        conn,
        c.FreezeCommissions(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "commission_freeze"),
            buyer=buyer,
            order_ref=order_ref,
            amount_fen=amount_fen,
            revenue_fen=revenue_fen,
        ),
    )
    repo.add_commissions(
        conn,
        tenant_id,
        [
            {
                "order_ref": order_ref,
                "level": int(item["level"]),
                "beneficiary": item["holder"],
                "buyer": buyer,
                "amount_fen": parse_money(item["amount"]),
                "status": "frozen",
                "created_at": now,
                "updated_at": now,
            }
            for item in result["commissions"]
        ],
    )


def _index_referral_rewards(
    store: Store, conn: Connection, tenant_id: str, order_ref: str, buyer: str, now: datetime
) -> None:
    """Copy the purchase journal's referral grants (level ≥ 1) into ``mall_referral_rewards``."""
    found = store.find_journals(conn, tenant_id, [_key(order_ref, "purchase")])
    journal = found.get(_key(order_ref, "purchase"))
    if journal is None:
        return
    grants = [g for g in journal[1].get("grants", []) if int(g["level"]) >= 1]
    if not grants or repo.has_rewards(conn, tenant_id, order_ref):
        return
    repo.add_rewards(
        conn,
        tenant_id,
        [
            {
                "order_ref": order_ref,
                "level": int(g["level"]),
                "beneficiary": g["holder"],
                "buyer": buyer,
                "points_units": parse_points(g["points"]),
                "journal_id": int(journal[1]["journal_id"]),
                "created_at": now,
            }
            for g in grants
            if parse_points(g["points"], allow_zero=True) > 0
        ],
    )


def on_completed(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """The order completed: release its frozen commissions (``ReleaseCommissions``)."""
    frozen = [r for r in repo.order_commissions(conn, tenant_id, order_ref) if r.status == "frozen"]
    if not frozen:
        return
    _run(
        conn,
        c.ReleaseCommissions(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "commission_release"),
            order_ref=order_ref,
            payouts=tuple((r.beneficiary, r.amount_fen) for r in frozen),
        ),
    )
    for r in frozen:
        repo.set_commission(conn, tenant_id, order_ref, r.level, status="released", updated_at=now)


def on_refunded(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """A booked order was refunded: claw its commissions back (``ClawbackCommissions``);
    what a referrer's cash cannot cover becomes their debt."""
    rows = [
        r
        for r in repo.order_commissions(conn, tenant_id, order_ref)
        if r.status in ("frozen", "released")
    ]
    if not rows:
        return
    result = _run(
        conn,
        c.ClawbackCommissions(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "commission_clawback"),
            order_ref=order_ref,
            frozen=tuple((r.beneficiary, r.amount_fen) for r in rows if r.status == "frozen"),
            paid=tuple((r.beneficiary, r.amount_fen) for r in rows if r.status == "released"),
        ),
    )
    # A referrer appears at most once in a chain (the ledger refuses cycles).
    taken = {t["holder"]: t for t in result.get("paid_taken_back", [])}
    for r in rows:
        values: dict[str, Any] = {"status": "clawed_back", "updated_at": now}
        t = taken.get(r.beneficiary)
        if r.status == "released" and t is not None:
            from_cash = parse_money(t["from_cash"], allow_zero=True)
            debt = parse_money(t["debt"], allow_zero=True)
            values.update(from_cash_fen=from_cash, debt_fen=debt)
            if debt:
                repo.add_debt(conn, tenant_id, r.beneficiary, debt, now)
        repo.set_commission(conn, tenant_id, order_ref, r.level, **values)
