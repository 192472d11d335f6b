"""The address book's use cases on the in-memory unit of work: add, change, default, delete."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork

from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import addresses
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound

TENANT = "t1"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
BUYER = Principal("session", "cred-1", "usr-buyer", TENANT, Role.CONSUMER)
OTHER = Principal("session", "cred-2", "usr-other", TENANT, Role.CONSUMER)
MERCHANT = Principal("session", "cred-3", "usr-seller", TENANT, Role.MERCHANT)
HOME = addresses.checked(
    recipient=" 张三 ",
    phone_number="138 0013 8000",
    region="浙江省 杭州市 西湖区",
    detail="文三路 1 号",
    postal="310000",
)


def add(
    uow: FakeUnitOfWork, who: Principal = BUYER, *, default: bool = False, minute: int = 0
) -> str:
    with uow:
        at = NOW + timedelta(minutes=minute)
        return addresses.create(uow, who, TENANT, HOME, make_default=default, now=at).address_id


def book(uow: FakeUnitOfWork, who: Principal = BUYER) -> list[tuple[str, bool]]:
    with uow:
        return [(a.address_id, a.is_default) for a in addresses.list_addresses(uow, who, TENANT)]


def test_checked_trims_and_normalises_the_fields() -> None:
    assert (HOME.recipient, HOME.phone, HOME.postal_code) == ("张三", "13800138000", "310000")


@pytest.mark.parametrize(
    ("field", "values"),
    [
        ("phone", {"phone_number": "12345"}),
        ("postal_code", {"postal": "3100"}),
        ("recipient", {"recipient": 7}),
    ],
)
def test_checked_refuses_a_bad_field_by_name(field: str, values: dict[str, object]) -> None:
    given: dict[str, object] = {
        "recipient": "张三",
        "phone_number": "13800138000",
        "region": "杭州",
        "detail": "1 号",
        "postal": None,
    }
    given.update(values)
    with pytest.raises(InvalidInput) as refused:
        addresses.checked(**given)
    assert refused.value.field == field


def test_the_first_address_is_the_default_and_a_new_default_moves_it() -> None:
    uow = FakeUnitOfWork()
    first = add(uow)
    second = add(uow, minute=1)
    assert book(uow) == [(first, True), (second, False)]
    third = add(uow, default=True, minute=2)
    assert book(uow) == [(third, True), (second, False), (first, False)]
    assert uow.addresses.locks == 3  # every change holds the user's row first


def test_set_default_and_delete_keep_exactly_one_default() -> None:
    uow = FakeUnitOfWork()
    first = add(uow)
    second = add(uow, minute=1)
    third = add(uow, minute=2)
    with uow:
        made = addresses.set_default(uow, BUYER, TENANT, second, NOW)
    assert made.is_default
    with uow:
        left = addresses.delete(uow, BUYER, TENANT, second, NOW)
    # the default went: the newest remaining address is the default now
    assert [(a.address_id, a.is_default) for a in left] == [(third, True), (first, False)]


def test_update_changes_only_the_fields_given_and_can_clear_the_postal_code() -> None:
    uow = FakeUnitOfWork()
    made = add(uow)
    later = NOW + timedelta(hours=1)
    with uow:
        changed = addresses.update(
            uow,
            BUYER,
            TENANT,
            made,
            detail="文三路 2 号",
            postal=None,
            postal_given=True,
            now=later,
        )
    assert (changed.recipient, changed.detail, changed.postal_code) == ("张三", "文三路 2 号", None)
    assert changed.updated_at == later


def test_the_book_holds_at_most_the_limit() -> None:
    uow = FakeUnitOfWork()
    for minute in range(addresses.MAX_ADDRESSES):
        add(uow, minute=minute)
    before = uow.snapshot()
    with pytest.raises(Conflict):
        add(uow, minute=99)
    assert uow.snapshot() == before


def test_another_users_address_is_unknown_and_nothing_changes() -> None:
    uow = FakeUnitOfWork()
    mine = add(uow)
    before = uow.snapshot()
    with pytest.raises(NotFound), uow:
        addresses.delete(uow, OTHER, TENANT, mine, NOW)
    with pytest.raises(NotFound), uow:
        addresses.get_address(uow, OTHER, TENANT, mine)
    assert uow.snapshot() == before


def test_a_bad_change_or_no_change_refused_changes_nothing() -> None:
    uow = FakeUnitOfWork()
    mine = add(uow)
    before = uow.snapshot()
    with pytest.raises(InvalidInput) as refused, uow:
        addresses.update(uow, BUYER, TENANT, mine, phone_number="not a phone", now=NOW)
    assert refused.value.field == "phone"
    with pytest.raises(InvalidInput), uow:
        addresses.update(uow, BUYER, TENANT, mine, now=NOW)
    assert uow.snapshot() == before


def test_only_consumers_keep_an_address_book() -> None:
    uow = FakeUnitOfWork()
    with pytest.raises(Forbidden), uow:
        addresses.list_addresses(uow, MERCHANT, TENANT)
    assert uow.addresses.rows == {}
