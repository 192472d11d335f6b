"""The commission rules on the in-memory unit of work: booked rows read from the ledger's
answers, release of the frozen ones, claw-back into cash and debt, and repeats that change
nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fakes import FakeUnitOfWork

from tokenmall.domain.ledger import commands as c
from tokenmall.domain.mall.commissions import CommissionStatus, NewCommission
from tokenmall.services.mall import commissions

TENANT = "one"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
LATER = NOW + timedelta(days=8)
ORDER = "ord-1"

PURCHASE = {
    "journal_id": 42,
    "grants": [
        {"level": 0, "holder": "usr-buyer", "points": "10.00000000"},
        {"level": 1, "holder": "usr-a", "points": "1.50000000"},
        {"level": 2, "holder": "usr-b", "points": "0.00000000"},
    ],
}
FREEZE = {
    "commissions": [
        {"level": 1, "holder": "usr-a", "amount": "5.00"},
        {"level": 2, "holder": "usr-b", "amount": "2.50"},
    ]
}


def booked_unit() -> FakeUnitOfWork:
    """A unit where ``ORDER`` was booked: its rewards indexed, its commissions frozen."""
    uow = FakeUnitOfWork()
    with uow:
        rows = commissions.booked(
            uow,
            TENANT,
            order_ref=ORDER,
            buyer="usr-buyer",
            purchase=PURCHASE,
            freeze=(FREEZE, True),
            fresh=True,
            now=NOW,
        )
        commissions.add_rows(uow, TENANT, rows)
    return uow


def statuses(uow: FakeUnitOfWork) -> list[tuple[int, CommissionStatus, int | None, int | None]]:
    return [
        (r.level, r.status, r.from_cash_fen, r.debt_fen)
        for r in uow.commissions.of_order(TENANT, ORDER)
    ]


def test_a_booking_indexes_its_referral_grants_and_freezes_its_commissions_in_fen() -> None:
    uow = booked_unit()
    [(tenant, reward)] = uow.commissions.rewards
    assert (tenant, reward.level, reward.beneficiary, reward.points_units, reward.journal_id) == (
        TENANT,
        1,
        "usr-a",
        150_000_000,
        42,
    )
    found = uow.commissions.of_order(TENANT, ORDER)
    assert [(r.beneficiary, r.amount_fen, r.status) for r in found] == [
        ("usr-a", 500, CommissionStatus.FROZEN),
        ("usr-b", 250, CommissionStatus.FROZEN),
    ]


def test_a_replayed_booking_proposes_no_rows_that_exist() -> None:
    uow = booked_unit()
    with uow:
        again = commissions.booked(
            uow,
            TENANT,
            order_ref=ORDER,
            buyer="usr-buyer",
            purchase=PURCHASE,
            freeze=(FREEZE, False),
            fresh=False,
            now=NOW,
        )
    assert again == commissions.BookedRows((), ())


def test_a_tenant_without_commission_rates_freezes_nothing() -> None:
    uow = FakeUnitOfWork()
    with uow:
        rows = commissions.booked(
            uow,
            TENANT,
            order_ref=ORDER,
            buyer="usr-buyer",
            purchase=None,
            freeze=None,
            fresh=True,
            now=NOW,
        )
    assert rows == commissions.BookedRows((), ())


def test_completion_releases_the_frozen_commissions_into_cash_once() -> None:
    uow = booked_unit()
    with uow:
        released = commissions.release(uow, TENANT, order_ref=ORDER, now=LATER)
    assert [r.level for r in released] == [1, 2]
    assert statuses(uow) == [
        (1, CommissionStatus.RELEASED, None, None),
        (2, CommissionStatus.RELEASED, None, None),
    ]
    assert uow.commission_ledger.cash == {(TENANT, "usr-a"): 500, (TENANT, "usr-b"): 250}
    [command] = uow.commission_ledger.commands
    assert isinstance(command, c.ReleaseCommissions)
    assert command.idempotency_key == f"order:{ORDER}:commission_release"
    before = uow.snapshot()
    with uow:
        assert commissions.release(uow, TENANT, order_ref=ORDER, now=LATER) == ()
    assert uow.snapshot() == before


def test_a_refund_before_completion_returns_the_frozen_ones_and_leaves_no_debt() -> None:
    uow = booked_unit()
    with uow:
        clawed = commissions.claw_back(uow, TENANT, order_ref=ORDER, now=LATER)
    assert len(clawed) == 2
    assert statuses(uow) == [
        (1, CommissionStatus.CLAWED_BACK, None, None),
        (2, CommissionStatus.CLAWED_BACK, None, None),
    ]
    assert uow.commissions.debts == {}
    [command] = uow.commission_ledger.commands
    assert isinstance(command, c.ClawbackCommissions)
    assert (command.frozen, command.paid) == ((("usr-a", 500), ("usr-b", 250)), ())


def test_a_refund_after_release_takes_cash_and_records_what_it_cannot_cover_as_debt() -> None:
    uow = booked_unit()
    with uow:
        commissions.release(uow, TENANT, order_ref=ORDER, now=LATER)
    uow.commission_ledger.cash[(TENANT, "usr-a")] = 200  # usr-a spent 3.00 of the 5.00
    with uow:
        commissions.claw_back(uow, TENANT, order_ref=ORDER, now=LATER)
    assert statuses(uow) == [
        (1, CommissionStatus.CLAWED_BACK, 200, 300),
        (2, CommissionStatus.CLAWED_BACK, 250, 0),
    ]
    assert uow.commissions.debts == {(TENANT, "usr-a"): 300}
    totals = uow.commissions.totals(TENANT, "usr-a")
    assert (totals.clawed_back, totals.from_cash, totals.debt) == (500, 200, 300)
    before = uow.snapshot()
    with uow:
        assert commissions.claw_back(uow, TENANT, order_ref=ORDER, now=LATER) == ()
    assert uow.snapshot() == before


def test_clawed_back_commissions_are_never_released() -> None:
    uow = FakeUnitOfWork()
    uow.commissions.add(
        TENANT,
        [
            NewCommission(
                ORDER, 1, "usr-a", "usr-buyer", 100, CommissionStatus.CLAWED_BACK, NOW, NOW
            )
        ],
    )
    before = uow.snapshot()
    with uow:
        assert commissions.release(uow, TENANT, order_ref=ORDER, now=LATER) == ()
    assert uow.snapshot() == before
