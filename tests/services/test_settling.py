"""The daily settlement on the in-memory unit of work: the day's figures as integers, its
events only when it is settled now, and a settled day answered as it was."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from fakes import FakeUnitOfWork
from fakes_wallet import FakeSettlements

from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import settling
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Forbidden, InvalidInput
from tokenmall.services.unit_of_work_wallet import Exit, SettledDay

TENANT = "t1"
NOW = datetime(2026, 1, 3, 1, 0, tzinfo=UTC)  # 09:00 on 2026-01-03 in UTC+8
DAY = date(2026, 1, 2)
ADMIN = Principal("api_key", "cred-1", "usr-admin", TENANT, Role.ADMIN)
BUYER = Principal("session", "cred-4", "usr-buyer", TENANT, Role.CONSUMER)
FIGURES = SettledDay(DAY, 7, 12_345, 3, 55, 8, 1, 250_000_000, 300, 123_456_789)


def unit(*, mall: bool = True) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    uow.settlement = FakeSettlements()
    uow.settlement.results[(TENANT, DAY)] = (FIGURES, [Exit("usr-buyer", 250_000_000, 300)])
    if mall:
        uow.settlement.mall_tenants.add(TENANT)
    return uow


def test_settling_a_day_answers_its_figures_and_announces_it() -> None:
    uow = unit()
    with uow:
        done = settling.settle_for_admin(uow, ADMIN, TENANT, DAY.isoformat(), NOW)
    assert done == settling.Settled(TENANT, DAY, FIGURES, True)
    assert done.exits == 1
    assert uow.cash.locks == 1
    (paid, exited) = uow.outbox.events
    assert paid == (
        TENANT,
        "dividend.paid",
        {
            "journal_id": 7,
            "business_date": "2026-01-02",
            "distributed": "123.45",
            "recipients": 3,
            "dividend_pool_left": "0.55",
            "exit_journal_id": 8,
            "exits": 1,
            "exit_points": "2.50000000",
            "exit_payout": "3.00",
            "price": "1.23456789",
        },
    )
    assert exited == (
        TENANT,
        "holder.exited",
        {
            "business_date": "2026-01-02",
            "user_id": "usr-buyer",
            "points": "2.50000000",
            "payout": "3.00",
            "price": "1.23456789",
            "exit_journal_id": 8,
        },
    )


def test_a_settled_day_is_answered_as_it_was_and_announced_once() -> None:
    uow = unit()
    with uow:
        settling.settle(uow, TENANT, DAY, NOW)
    with uow:
        again = settling.settle(uow, TENANT, DAY, NOW)
    assert again == settling.Settled(TENANT, DAY, FIGURES, False)
    assert len(uow.outbox.events) == 2
    assert settling.list_settled(uow, ADMIN, TENANT, None, 10) == [FIGURES]
    assert settling.list_settled(uow, ADMIN, TENANT, "2026-01-02", 10) == []
    assert settling.is_settled(uow, TENANT, DAY)


def test_a_tenant_without_a_mall_settles_without_events() -> None:
    uow = unit(mall=False)
    with uow:
        assert settling.settle(uow, TENANT, DAY, NOW).settled_now
    assert uow.outbox.events == []


@pytest.mark.parametrize(
    ("who", "text", "error"),
    [
        (BUYER, "2026-01-02", Forbidden),
        (ADMIN, "2026-01-03", InvalidInput),  # today has not ended in UTC+8
        (ADMIN, "2026-13-01", InvalidInput),
        (ADMIN, "yesterday", InvalidInput),
    ],
)
def test_a_refused_settlement_changes_nothing(
    who: Principal, text: str, error: type[Exception]
) -> None:
    uow = unit()
    with pytest.raises(error), uow:
        settling.settle_for_admin(uow, who, TENANT, text, NOW)
    assert not settling.is_settled(uow, TENANT, DAY)
    assert uow.outbox.events == []
    with pytest.raises(Forbidden):
        settling.list_settled(uow, BUYER, TENANT, None, 10)
