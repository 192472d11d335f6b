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

The rules (``release``, ``claw_back``) run on a ``CommissionsUnit``: the unit of work's
``commissions`` and ``commission_ledger`` ports (any ``UnitOfWork`` is one). The hooks take
``order_ledger``'s connection and run the same rules on those ports bound to it; the ledger's
answers (dicts) are read into typed rows here (``RewardRow``, ``NewCommission``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Connection

from tokenmall.adapters.db.store import Store
from tokenmall.adapters.db.uow_people import SqlCommissions
from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.commissions import (
    CommissionRow,
    CommissionStatus,
    NewCommission,
    RewardRow,
)
from tokenmall.domain.mall.transitions import COMMISSION, Actor
from tokenmall.domain.money import parse_money, parse_points
from tokenmall.services.ledger import execute as ledger
from tokenmall.services.mall.people_ledger import SqlCommissionLedger
from tokenmall.services.unit_of_work_people import CommissionLedger, Commissions

FROZEN, RELEASED = CommissionStatus.FROZEN, CommissionStatus.RELEASED


class CommissionsUnit(Protocol):
    """What the commission rules need of a unit of work."""

    @property
    def commissions(self) -> Commissions: ...

    @property
    def commission_ledger(self) -> CommissionLedger: ...


@dataclass(frozen=True, slots=True)
class _Joined:
    """The commission ports bound to a connection's open transaction."""

    commissions: SqlCommissions
    commission_ledger: SqlCommissionLedger

    @classmethod
    def on(cls, conn: Connection) -> _Joined:
        return cls(SqlCommissions(conn), SqlCommissionLedger(conn))


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
    rewards: tuple[RewardRow, ...]
    commissions: tuple[NewCommission, ...]


def rewards_of(
    purchase: dict[str, Any], *, order_ref: str, buyer: str, now: datetime
) -> tuple[RewardRow, ...]:
    """A purchase journal's referral grants (level >= 1, more than nothing) as rows."""
    return tuple(
        RewardRow(
            order_ref=order_ref,
            level=int(g["level"]),
            beneficiary=g["holder"],
            buyer=buyer,
            points_units=parse_points(g["points"]),
            journal_id=int(purchase["journal_id"]),
            created_at=now,
        )
        for g in purchase.get("grants", [])
        if int(g["level"]) >= 1 and parse_points(g["points"], allow_zero=True) > 0
    )


def frozen_of(
    result: dict[str, Any], *, order_ref: str, buyer: str, now: datetime
) -> tuple[NewCommission, ...]:
    """A ``FreezeCommissions`` result's commissions as rows, in their first status."""
    return tuple(
        NewCommission(
            order_ref=order_ref,
            level=int(item["level"]),
            beneficiary=item["holder"],
            buyer=buyer,
            amount_fen=parse_money(item["amount"]),
            status=COMMISSION.initial,
            created_at=now,
            updated_at=now,
        )
        for item in result["commissions"]
    )


def booked(
    unit: CommissionsUnit,
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
    yet and nothing is read; otherwise (a replay) rows are proposed only if missing."""
    rewards: tuple[RewardRow, ...] = ()
    if purchase is not None:
        found = rewards_of(purchase, order_ref=order_ref, buyer=buyer, now=now)
        if found and (fresh or not unit.commissions.has_rewards(tenant_id, order_ref)):
            rewards = found
    frozen: tuple[NewCommission, ...] = ()
    if freeze is not None:
        result, new = freeze
        if new or not unit.commissions.of_order(tenant_id, order_ref):
            frozen = frozen_of(result, order_ref=order_ref, buyer=buyer, now=now)
    return BookedRows(rewards, frozen)


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
    """``booked`` on ``conn``. Reads happen here, never in ``add_booked_rows`` (which may run
    in a pipeline)."""
    return booked(
        _Joined.on(conn),
        tenant_id,
        order_ref=order_ref,
        buyer=buyer,
        purchase=purchase,
        freeze=freeze,
        fresh=fresh,
        now=now,
    )


def add_rows(unit: CommissionsUnit, tenant_id: str, rows: BookedRows) -> None:
    """Write ``booked``'s rows (writes only)."""
    if rows.rewards:
        unit.commissions.add_rewards(tenant_id, rows.rewards)
    if rows.commissions:
        unit.commissions.add(tenant_id, rows.commissions)


def add_booked_rows(conn: Connection, tenant_id: str, rows: BookedRows) -> None:
    """``add_rows`` on ``conn``."""
    add_rows(_Joined.on(conn), tenant_id, rows)


def release(
    unit: CommissionsUnit, tenant_id: str, *, order_ref: str, now: datetime
) -> tuple[CommissionRow, ...]:
    """The order completed: pay its frozen commissions (``ReleaseCommissions``); the ones
    released (none if nothing was frozen)."""
    rows = unit.commissions.of_order(tenant_id, order_ref)
    frozen = tuple(r for r in rows if r.status in COMMISSION.sources("release"))
    if not frozen:
        return ()
    unit.commission_ledger.release(
        c.ReleaseCommissions(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "commission_release"),
            order_ref=order_ref,
            payouts=tuple((r.beneficiary, r.amount_fen) for r in frozen),
        )
    )
    for r in frozen:
        released = COMMISSION.check(r.status, "release", Actor.SYSTEM)
        unit.commissions.settle(
            tenant_id,
            order_ref,
            r.level,
            status=released,
            from_cash_fen=None,
            debt_fen=None,
            now=now,
        )
    return frozen


def claw_back(
    unit: CommissionsUnit, tenant_id: str, *, order_ref: str, now: datetime
) -> tuple[CommissionRow, ...]:
    """A booked order was refunded: take its commissions back (``ClawbackCommissions``);
    what a referrer's cash cannot cover becomes their debt. The ones clawed back."""
    rows = tuple(
        r
        for r in unit.commissions.of_order(tenant_id, order_ref)
        if r.status in COMMISSION.sources("claw_back")
    )
    if not rows:
        return ()
    taken = unit.commission_ledger.claw_back(
        c.ClawbackCommissions(
            tenant_id=tenant_id,
            idempotency_key=_key(order_ref, "commission_clawback"),
            order_ref=order_ref,
            frozen=tuple((r.beneficiary, r.amount_fen) for r in rows if r.status == FROZEN),
            paid=tuple((r.beneficiary, r.amount_fen) for r in rows if r.status == RELEASED),
        )
    )
    # A referrer appears at most once in a chain (the ledger refuses cycles).
    for r in rows:
        clawed = COMMISSION.check(r.status, "claw_back", Actor.SYSTEM)
        t = taken.get(r.beneficiary) if r.status == RELEASED else None
        if t is not None and t.debt_fen:
            unit.commissions.add_debt(tenant_id, r.beneficiary, t.debt_fen, now)
        unit.commissions.settle(
            tenant_id,
            order_ref,
            r.level,
            status=clawed,
            from_cash_fen=None if t is None else t.from_cash_fen,
            debt_fen=None if t is None else t.debt_fen,
            now=now,
        )
    return rows


def on_completed(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """``release`` on ``conn`` (the order's transaction)."""
    release(_Joined.on(conn), tenant_id, order_ref=order_ref, now=now)


def on_refunded(conn: Connection, tenant_id: str, *, order_ref: str, now: datetime) -> None:
    """``claw_back`` on ``conn`` (the order's transaction)."""
    claw_back(_Joined.on(conn), tenant_id, order_ref=order_ref, now=now)
