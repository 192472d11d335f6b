"""A store's withdrawals on the in-memory unit of work: its owner asks for the store's cash (its
paid royalties), which is held and paid out from the store's holding, never the owner's own; the
owner may not approve it; more than the store holds, a store of another, or an unknown one is
refused and changes nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest
from fakes import FakeUnitOfWork
from test_withdrawals import FIRST, MEMBER, NOW, TENANT, mall

from tokenmall.domain.errors import InsufficientBalance
from tokenmall.domain.mall.catalogue import Merchant
from tokenmall.domain.mall.people import KycStatus, Role
from tokenmall.domain.mall.withdrawals import WithdrawalStatus
from tokenmall.services.mall import statement, withdrawals
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Forbidden, InvalidInput, NotFound

OWNER = Principal("session", "cred-9", "usr-owner", TENANT, Role.MERCHANT)
STORE = "mch-store"


def store_mall(store_cash: int = 600, own_cash: int = 10_000) -> FakeUnitOfWork:
    uow = mall()
    member = uow.people.users[(TENANT, MEMBER.subject_id)]
    uow.people.users[(TENANT, OWNER.subject_id)] = replace(
        member, user_id=OWNER.subject_id, role=Role.MERCHANT, kyc_status=KycStatus.VERIFIED
    )
    uow.catalogue.merchants[(TENANT, STORE)] = Merchant(TENANT, STORE, "S", OWNER.subject_id, NOW)
    uow.cash.cash[(TENANT, STORE)] = store_cash
    uow.cash.cash[(TENANT, OWNER.subject_id)] = own_cash
    return uow


def test_the_owner_withdraws_the_stores_cash_and_another_admin_pays_it() -> None:
    uow = store_mall()
    with uow:
        asked = withdrawals.request(uow, OWNER, TENANT, "4.00", NOW, merchant_id=STORE)
    assert (asked.user_id, asked.merchant_id, asked.holder) == (OWNER.subject_id, STORE, STORE)
    assert uow.cash.cash[(TENANT, STORE)] == 200
    assert uow.cash.held[(TENANT, STORE)] == 400
    assert uow.cash.cash[(TENANT, OWNER.subject_id)] == 10_000
    with uow, pytest.raises(Forbidden):
        withdrawals.approve(uow, replace(OWNER, role=Role.ADMIN), TENANT, asked.withdrawal_id, NOW)
    with uow:
        paid = withdrawals.approve(uow, FIRST, TENANT, asked.withdrawal_id, NOW)
    assert paid.status == WithdrawalStatus.PAID
    assert uow.cash.held[(TENANT, STORE)] == 0
    assert uow.cash.paid_out[(TENANT, STORE)] == 400
    assert (TENANT, OWNER.subject_id) not in uow.cash.paid_out


@pytest.mark.parametrize(
    ("who", "store", "amount", "error"),
    [
        (OWNER, STORE, "6.01", InsufficientBalance),
        (MEMBER, STORE, "1.00", NotFound),
        (FIRST, STORE, "1.00", NotFound),
        (OWNER, "mch-none", "1.00", NotFound),
    ],
)
def test_refused_store_withdrawals_change_nothing(
    who: Principal, store: str, amount: str, error: type[Exception]
) -> None:
    uow = store_mall()
    before = (dict(uow.cash.cash), dict(uow.cash.held), list(uow.cash.commands))
    with uow, pytest.raises(error):
        withdrawals.request(uow, who, TENANT, amount, NOW, merchant_id=store)
    assert (dict(uow.cash.cash), dict(uow.cash.held), list(uow.cash.commands)) == before
    assert uow.withdrawals.rows == {}


def test_the_store_statement_is_its_owners_only() -> None:
    uow = store_mall()
    with uow:
        withdrawals.request(uow, OWNER, TENANT, "1.00", NOW, merchant_id=STORE)
        withdrawals.request(uow, OWNER, TENANT, "1.00", NOW)  # the owner's own cash
        shown = statement.store_statement(uow, OWNER, TENANT)
    assert (shown.merchant_id, shown.cash) == (STORE, 500)
    assert [w.merchant_id for w in shown.withdrawals] == [STORE]
    with uow, pytest.raises(Forbidden):
        statement.store_statement(uow, MEMBER, TENANT)


def test_the_stores_withdrawals_come_in_pages_of_one_stable_order() -> None:
    uow = store_mall(store_cash=10_000)
    with uow:
        made = [
            withdrawals.request(uow, OWNER, TENANT, "1.00", NOW, merchant_id=STORE).withdrawal_id
            for _ in range(7)
        ]
        withdrawals.request(uow, OWNER, TENANT, "1.00", NOW)  # the owner's own cash
    pages, after = [], None
    while True:
        with uow:
            shown = statement.store_statement(
                uow, OWNER, TENANT, withdrawals_after=after, withdrawals_limit=3
            )
        pages.append([w.withdrawal_id for w in shown.withdrawals])
        after = shown.withdrawals_next_after
        if after is None:
            break
    assert [len(p) for p in pages] == [3, 3, 1]
    assert [w for p in pages for w in p] == sorted(made)
    with uow:
        listed = withdrawals.list_withdrawals(
            uow, FIRST, TENANT, status=None, user_id=None, after=None, limit=3, merchant_id=STORE
        )
    assert [w.withdrawal_id for w in listed] == pages[0]


@pytest.mark.parametrize(
    ("after", "limit", "field"),
    [
        ("a b", 3, "withdrawals_after"),
        ("x" * 41, 3, "withdrawals_after"),
        (None, 0, "withdrawals_limit"),
    ],
)
def test_a_bad_page_of_the_stores_withdrawals_is_refused_naming_the_field(
    after: str | None, limit: int, field: str
) -> None:
    uow = store_mall()
    with uow, pytest.raises(InvalidInput) as refused:
        statement.store_statement(uow, OWNER, TENANT, withdrawals_after=after,
                                  withdrawals_limit=limit)  # fmt: skip
    assert refused.value.field == field


def test_another_members_store_withdrawals_are_not_found() -> None:
    uow = store_mall()
    with uow, pytest.raises(NotFound):
        withdrawals.list_withdrawals(
            uow, MEMBER, TENANT, status=None, user_id=None, after=None, limit=3, merchant_id=STORE
        )
