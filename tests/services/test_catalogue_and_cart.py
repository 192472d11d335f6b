"""The catalogue's and the cart's use cases on the in-memory unit of work."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from fakes import FakeUnitOfWork

from tokenmall.domain.mall.catalogue import ProductStatus, StockReason
from tokenmall.domain.mall.people import KycStatus, Role, User
from tokenmall.services.mall import cart, catalogue
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    OutOfStock,
)

TENANT = "t1"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADMIN = Principal("api_key", "cred-1", "usr-admin", TENANT, Role.ADMIN)
SELLER = Principal("session", "cred-2", "usr-seller", TENANT, Role.MERCHANT)
RIVAL = Principal("session", "cred-3", "usr-rival", TENANT, Role.MERCHANT)
BUYER = Principal("session", "cred-4", "usr-buyer", TENANT, Role.CONSUMER)


def _user(user_id: str, role: Role) -> User:
    return User(
        TENANT, user_id, f"{user_id}@example.com", user_id, role, KycStatus.NONE, "c", None, NOW
    )


def shop(stock: int = 5) -> tuple[FakeUnitOfWork, str, str]:
    """A unit holding one merchant (owned by SELLER), one active product and one SKU."""
    uow = FakeUnitOfWork()
    for who in (SELLER, RIVAL):
        uow.people.users[(TENANT, who.subject_id)] = _user(who.subject_id, Role.MERCHANT)
    uow.people.users[(TENANT, BUYER.subject_id)] = _user(BUYER.subject_id, Role.CONSUMER)
    with uow:
        catalogue.create_merchant(uow, ADMIN, TENANT, "Tea House", SELLER.subject_id, NOW)
        catalogue.create_merchant(uow, ADMIN, TENANT, "Rival", RIVAL.subject_id, NOW)
        product = catalogue.create_product(
            uow, SELLER, TENANT, merchant_id=None, title="Tea", description="", now=NOW
        )
        sku = catalogue.create_sku(
            uow,
            SELLER,
            TENANT,
            product.product_id,
            name="100 g",
            price="12.50",
            stock=stock,
            pool_contribution=None,
            now=NOW,
        )
    return uow, product.product_id, sku.sku_id


def test_create_sku_keeps_integers_and_records_the_first_stock() -> None:
    uow, product_id, sku_id = shop(stock=5)
    sku = uow.catalogue.skus[(TENANT, sku_id)]
    assert (sku.price_fen, sku.stock, sku.product_id) == (1250, 5, product_id)
    [movement] = uow.catalogue.movements
    assert (movement.change, movement.stock_after, movement.reason) == (5, 5, StockReason.RESTOCK)


def test_a_merchant_owner_must_be_a_merchant_and_own_one_merchant() -> None:
    uow, _, _ = shop()
    before = uow.snapshot()
    with pytest.raises(Conflict), uow:
        catalogue.create_merchant(uow, ADMIN, TENANT, "Again", SELLER.subject_id, NOW)
    with pytest.raises(InvalidInput) as refused, uow:
        catalogue.create_merchant(uow, ADMIN, TENANT, "Shop", BUYER.subject_id, NOW)
    assert refused.value.field == "owner_user_id"
    with pytest.raises(Forbidden), uow:
        catalogue.create_merchant(uow, SELLER, TENANT, "Mine", SELLER.subject_id, NOW)
    assert uow.snapshot() == before


def test_stock_moves_are_recorded_and_taking_more_than_is_left_is_refused() -> None:
    uow, _, sku_id = shop(stock=3)
    with uow:
        catalogue.change_stock(
            uow, SELLER, TENANT, sku_id, change=4, reason="restock", reference=None, now=NOW
        )
        taken = catalogue.change_stock(
            uow, SELLER, TENANT, sku_id, change=-6, reason="adjustment", reference="count", now=NOW
        )
    assert (taken.change, taken.stock_after) == (-6, 1)
    before = uow.snapshot()
    with pytest.raises(OutOfStock), uow:
        catalogue.change_stock(
            uow, SELLER, TENANT, sku_id, change=-2, reason="adjustment", reference=None, now=NOW
        )
    with pytest.raises(InvalidInput), uow:
        catalogue.change_stock(
            uow, SELLER, TENANT, sku_id, change=-1, reason="restock", reference=None, now=NOW
        )
    assert uow.snapshot() == before
    assert uow.catalogue.skus[(TENANT, sku_id)].stock == 1
    with uow:
        moves = catalogue.list_movements(uow, SELLER, TENANT, sku_id, 10)
    assert sorted(m.change for m in moves) == [-6, 3, 4]


def test_another_merchants_product_is_not_theirs_to_change() -> None:
    uow, product_id, sku_id = shop()
    before = uow.snapshot()
    with pytest.raises(Forbidden), uow:
        catalogue.update_product(
            uow, RIVAL, TENANT, product_id, catalogue.ProductChanges(title="Mine now")
        )
    with pytest.raises(Forbidden), uow:
        catalogue.change_stock(
            uow, RIVAL, TENANT, sku_id, change=1, reason="restock", reference=None, now=NOW
        )
    assert uow.snapshot() == before


def test_a_hidden_product_is_unknown_to_consumers_and_not_sellable() -> None:
    uow, product_id, sku_id = shop()
    with uow:
        hidden = catalogue.update_product(
            uow, SELLER, TENANT, product_id, catalogue.ProductChanges(status="hidden")
        )
    assert hidden.status == ProductStatus.HIDDEN
    with pytest.raises(NotFound), uow:
        catalogue.get_product(uow, BUYER, TENANT, product_id)
    with uow:
        assert catalogue.list_products(uow, BUYER, TENANT, None, None, 10) == []
        assert len(catalogue.list_products(uow, ADMIN, TENANT, None, None, 10)) == 1
    with pytest.raises(InvalidInput) as refused, uow:
        cart.add_line(uow, BUYER, TENANT, sku_id, 1, NOW)
    assert refused.value.field == "sku_id"


def test_a_bad_price_or_contribution_changes_nothing() -> None:
    uow, product_id, sku_id = shop()
    before = uow.snapshot()
    for price, contribution, field in (
        ("-1", None, "price"),
        ("1.00", "2.00", "pool_contribution"),
    ):
        with pytest.raises(InvalidInput) as refused, uow:
            catalogue.create_sku(
                uow,
                SELLER,
                TENANT,
                product_id,
                name="big",
                price=price,
                stock=1,
                pool_contribution=contribution,
                now=NOW,
            )
        assert refused.value.field == field
    with pytest.raises(InvalidInput), uow:
        catalogue.update_sku(uow, SELLER, TENANT, sku_id, catalogue.SkuChanges())
    assert uow.snapshot() == before


def test_the_cart_adds_sets_and_removes_lines_priced_in_fen() -> None:
    uow, _, sku_id = shop()
    with uow:
        cart.add_line(uow, BUYER, TENANT, sku_id, 2, NOW)
        added = cart.add_line(uow, BUYER, TENANT, sku_id, 1, NOW)
    [line] = added.lines
    assert (line.quantity, line.line_total_fen, added.total_fen) == (3, 3750, 3750)
    assert line.available
    with uow:
        changed = cart.set_line(uow, BUYER, TENANT, sku_id, 9, NOW)
    assert changed.lines[0].quantity == 9
    assert not changed.lines[0].available  # more than the 5 in stock: the cart holds no stock
    with uow:
        emptied = cart.remove_line(uow, BUYER, TENANT, sku_id)
    assert emptied.lines == ()
    assert emptied.total_fen == 0


def test_bad_cart_changes_are_refused_and_change_nothing() -> None:
    uow, _, sku_id = shop()
    with uow:
        cart.add_line(uow, BUYER, TENANT, sku_id, 1, NOW)
    before = uow.snapshot()
    with pytest.raises(InvalidInput), uow:
        cart.add_line(uow, BUYER, TENANT, sku_id, cart.MAX_LINE_QUANTITY, NOW)
    with pytest.raises(InvalidInput), uow:
        cart.add_line(uow, BUYER, TENANT, sku_id, 0, NOW)
    with pytest.raises(InvalidInput), uow:
        cart.add_line(uow, BUYER, TENANT, "sku-none", 1, NOW)
    with pytest.raises(NotFound), uow:
        cart.set_line(uow, BUYER, TENANT, "sku-none", 1, NOW)
    with pytest.raises(NotFound), uow:
        cart.remove_line(uow, BUYER, TENANT, "sku-none")
    with pytest.raises(Forbidden), uow:
        cart.get_cart(uow, SELLER, TENANT)
    assert uow.snapshot() == before
