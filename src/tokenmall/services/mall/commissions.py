"""Distribution commissions: at most 3 levels, frozen until the order completes.

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

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from tokenmall.adapters.db.mall import commissions as repo
from tokenmall.adapters.db.store import Store
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.commissions import CommissionStatus
from tokenmall.domain.mall.transitions import COMMISSION, Actor
from tokenmall.domain.money import parse_money, parse_points
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.mall import journal

FROZEN, RELEASED = CommissionStatus.FROZEN, CommissionStatus.RELEASED


def _key(order_ref: str, step: str) -> str:
    return f"order:{order_ref}:{step}"


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
    commissions (``FreezeCommissions``). Its own ledger batch; ``order_ledger`` books and
    freezes in one batch with ``freeze_in`` and ``record_booked`` instead."""
    store = Store(conn.engine)
    purchase_key = _key(order_ref, "purchase")
    with ledger.LedgerBatch(
        store, conn, tenant_id, [purchase_key, _key(order_ref, "commission_freeze")]
    ) as batch:
        purchase = batch.stored(purchase_key)
        freeze = freeze_in(
            batch, order_ref=order_ref, buyer=buyer, amount_fen=amount_fen, revenue_fen=revenue_fen
        )
    record_booked(
        conn,
        tenant_id,
        order_ref=order_ref,
        buyer=buyer,
        purchase=purchase,
        freeze=freeze,
        fresh=False,
        now=now,
    )


def freeze_in(
    batch: ledger.LedgerBatch, *, order_ref: str, buyer: str, amount_fen: int, revenue_fen: int
) -> tuple[dict[str, Any], bool] | None:
    """Freeze the order's commissions in ``batch`` (the order's booking batch): the
    ``FreezeCommissions`` result and whether it is new; None if the tenant pays none."""
    if not batch.params.commission_rates:
        return None
    return batch.apply(
        c.FreezeCommissions(
            tenant_id=batch.tenant_id,
            idempotency_key=_key(order_ref, "commission_freeze"),
            buyer=buyer,
            order_ref=order_ref,
            amount_fen=amount_fen,
            revenue_fen=revenue_fen,
        )
    )


def record_booked(
    conn: Connection,
    tenant_id: str,
    *,
    order_ref: str,
    buyer: str,
    purchase: dict[str, Any] | None,
    freeze: tuple[dict[str, Any], bool] | None,
    fresh: bool,
    now: datetime,
) -> None:
    """The mall's rows of a booking (``booked_rows`` then ``add_booked_rows``)."""
    rows = booked_rows(
        conn,
        tenant_id,
        order_ref=order_ref,
        buyer=buyer,
        purchase=purchase,
        freeze=freeze,
        fresh=fresh,
        now=now,
    )
    add_booked_rows(conn, tenant_id, rows)


@dataclass(frozen=True, slots=True)
class BookedRows:
    rewards: list[dict[str, Any]]
    commissions: list[dict[str, Any]]


def booked_rows(
    conn: Connection,
    tenant_id: str,
    *,
    order_ref: str,
    buyer: str,
    purchase: dict[str, Any] | None,
    freeze: tuple[dict[str, Any], bool] | None,
    fresh: bool,
    now: datetime,
) -> BookedRows:
    """The mall's rows of a booking: the purchase's referral grants (level ≥ 1) for
    ``mall_referral_rewards`` and the frozen commissions for ``mall_commissions``.

    ``fresh``: the purchase journal was made in this transaction, so no row of it can exist
    yet and nothing is read; otherwise (a replay) rows are proposed only if missing. Reads
    happen here, never in ``add_booked_rows`` (which may run in a pipeline)."""
    rewards: list[dict[str, Any]] = []
    if purchase is not None:
        grants = [
            g
            for g in purchase.get("grants", [])
            if int(g["level"]) >= 1 and parse_points(g["points"], allow_zero=True) > 0
        ]
        if grants and (fresh or not repo.has_rewards(conn, tenant_id, order_ref)):
            rewards = [
                {
                    "order_ref": order_ref,
                    "level": int(g["level"]),
                    "beneficiary": g["holder"],
                    "buyer": buyer,
                    "points_units": parse_points(g["points"]),
                    "journal_id": int(purchase["journal_id"]),
                    "created_at": now,
                }
                for g in grants
            ]
    frozen: list[dict[str, Any]] = []
    if freeze is not None:
        result, new = freeze
        if new or not repo.order_commissions(conn, tenant_id, order_ref):
            frozen = [
                {
                    "order_ref": order_ref,
                    "level": int(item["level"]),
                    "beneficiary": item["holder"],
                    "buyer": buyer,
                    "amount_fen": parse_money(item["amount"]),
                    "status": COMMISSION.initial,
                    "created_at": now,
                    "updated_at": now,
                }
                for item in result["commissions"]
            ]
    return BookedRows(rewards, frozen)


def add_booked_rows(conn: Connection, tenant_id: str, rows: BookedRows) -> None:
    """Write ``booked_rows``' rows (writes only)."""
    if rows.rewards:
        repo.add_rewards(conn, tenant_id, rows.rewards)
    if rows.commissions:
        repo.add_commissions(conn, tenant_id, rows.commissions)


def on_completed(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """The order completed: release its frozen commissions (``ReleaseCommissions``)."""
    releasable = COMMISSION.sources("release")
    rows = repo.order_commissions(conn, tenant_id, order_ref)
    frozen = [r for r in rows if r.status in releasable]
    if not frozen:
        return
    journal.run(
        conn,
        c.ReleaseCommissions(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "commission_release"),
            order_ref=order_ref,
            payouts=tuple((r.beneficiary, r.amount_fen) for r in frozen),
        ),
    )
    for r in frozen:
        released = COMMISSION.check(r.status, "release", Actor.SYSTEM)
        repo.set_commission(conn, tenant_id, order_ref, r.level, status=released, updated_at=now)


def on_refunded(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """A booked order was refunded: claw its commissions back (``ClawbackCommissions``);
    what a referrer's cash cannot cover becomes their debt."""
    rows = [
        r
        for r in repo.order_commissions(conn, tenant_id, order_ref)
        if r.status in COMMISSION.sources("claw_back")
    ]
    if not rows:
        return
    result = journal.run(
        conn,
        c.ClawbackCommissions(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "commission_clawback"),
            order_ref=order_ref,
            frozen=tuple((r.beneficiary, r.amount_fen) for r in rows if r.status == FROZEN),
            paid=tuple((r.beneficiary, r.amount_fen) for r in rows if r.status == RELEASED),
        ),
    )
    # A referrer appears at most once in a chain (the ledger refuses cycles).
    taken = {t["holder"]: t for t in result.get("paid_taken_back", [])}
    for r in rows:
        clawed = COMMISSION.check(r.status, "claw_back", Actor.SYSTEM)
        values: dict[str, Any] = {"status": clawed, "updated_at": now}
        t = taken.get(r.beneficiary)
        if r.status == RELEASED and t is not None:
            from_cash = parse_money(t["from_cash"], allow_zero=True)
            debt = parse_money(t["debt"], allow_zero=True)
            values.update(from_cash_fen=from_cash, debt_fen=debt)
            if debt:
                repo.add_debt(conn, tenant_id, r.beneficiary, debt, now)
        repo.set_commission(conn, tenant_id, order_ref, r.level, **values)
