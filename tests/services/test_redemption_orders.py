"""A redemption's order (提货) on the in-memory unit of work: the order's own moves call the
``token_orders`` port when it is received (by its owner or the clock) or cancelled (before it
ships, by its owner or merchant); it books nothing and is never refunded; a token that cannot
follow refuses the move and nothing changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from fakes import FakeUnitOfWork
from test_orders import ADMIN, BUYER, NOW, SELLER, STRANGER, TENANT, _order, _ship, _stock, shop

from tokenmall.domain.mall.errors import TransitionRefused
from tokenmall.domain.mall.orders import Order, OrderLine, OrderRedemption, OrderStatus
from tokenmall.services.mall import catalogue, order_clock, order_refunds, orders
from tokenmall.services.mall.errors import Conflict, Forbidden, NotFound


def _redemption_order(uow: FakeUnitOfWork, sku_id: str, order_id: str = "ord-r1") -> Order:
    """What ``services/nfg/redemption.request`` makes: paid by the token, total 0."""
    sku = uow.catalogue.get_sku(TENANT, sku_id)
    assert sku is not None
    seller = uow.catalogue.merchant_of_owner(TENANT, SELLER.subject_id)
    assert seller is not None
    order = Order(
        tenant_id=TENANT,
        order_id=order_id,
        checkout_id="rdm-1",
        user_id=BUYER.subject_id,
        merchant_id=seller.merchant_id,
        status=OrderStatus.PAID,
        total_fen=0,
        money_fen=0,
        stable_fen=0,
        created_at=NOW,
        pay_by=NOW,
        paid_at=NOW,
        lines=(OrderLine(1, sku_id, sku.product_id, "Tea", "100 g", 12_50, 1, 12_50, None),),
        redemption=OrderRedemption("rdm-1", "col-1", 7),
    )
    with uow:
        uow.orders.add(order)
        catalogue.reserve(uow.catalogue, TENANT, sku_id, 1, order_id, NOW)
    return order


def test_received_by_its_owner_the_token_is_told_and_nothing_is_booked() -> None:
    uow, sku_id = shop()
    order = _redemption_order(uow, sku_id)
    with uow:
        _ship(uow, SELLER, order.order_id)
    assert uow.token_orders.calls == []
    with uow:
        orders.confirm_receipt(uow, BUYER, TENANT, order.order_id, NOW)
    assert uow.token_orders.calls == [(order.order_id, "received", BUYER.subject_id, None)]
    ledger = uow.snapshot()[8]
    with uow:
        orders.update_settings(
            uow,
            ADMIN,
            TENANT,
            return_window_days=0,
            payment_timeout_minutes=None,
            auto_confirm_days=None,
            now=NOW,
        )
        order_clock.complete_due_orders(uow, TENANT, NOW + timedelta(seconds=1))
    done = _order(uow, order.order_id)
    assert done.status == OrderStatus.COMPLETED
    assert not done.rewards_booked
    assert uow.snapshot()[8] == ledger  # no payment, purchase or commission step
    assert len(uow.token_orders.calls) == 1


def test_the_clock_confirms_receipt_as_the_system() -> None:
    uow, sku_id = shop()
    order = _redemption_order(uow, sku_id)
    with uow:
        _ship(uow, SELLER, order.order_id)
        days = orders.get_settings(uow, ADMIN, TENANT).auto_confirm_days
        order_clock.complete_due_orders(uow, TENANT, NOW + timedelta(days=days + 1))
    assert [(c[1], c[2]) for c in uow.token_orders.calls] == [("received", "system")]


@pytest.mark.parametrize("who", [BUYER, SELLER, ADMIN])
def test_cancelled_before_shipping_by_owner_merchant_or_admin(who: object) -> None:
    uow, sku_id = shop()
    stock = _stock(uow, sku_id)
    order = _redemption_order(uow, sku_id)
    with uow:
        orders.cancel(uow, who, TENANT, order.order_id, None, NOW)  # type: ignore[arg-type]
    assert _order(uow, order.order_id).status == OrderStatus.CANCELLED
    assert _stock(uow, sku_id) == stock
    assert [c[1] for c in uow.token_orders.calls] == ["cancelled"]


def test_refused_moves_change_nothing() -> None:
    uow, sku_id = shop()
    order = _redemption_order(uow, sku_id)
    before = uow.snapshot()
    # Never refunded, by anyone; a stranger does not see it.
    with pytest.raises(Conflict, match="nothing to refund"), uow:
        order_refunds.request_refund(uow, BUYER, TENANT, order.order_id, "no", NOW)
    with pytest.raises(NotFound), uow:
        orders.cancel(uow, STRANGER, TENANT, order.order_id, None, NOW)
    # A token that cannot follow refuses the move: the order stays as it was.
    uow.token_orders.refuse = TransitionRefused("token_locked: the token is held", "token")
    with pytest.raises(TransitionRefused), uow:
        orders.cancel(uow, BUYER, TENANT, order.order_id, None, NOW)
    uow.token_orders.refuse = None
    assert uow.snapshot() == before
    # Shipped, it can no longer be cancelled.
    with uow:
        _ship(uow, SELLER, order.order_id)
    shipped = uow.snapshot()
    for who in (BUYER, SELLER):
        with pytest.raises(TransitionRefused), uow:
            orders.cancel(uow, who, TENANT, order.order_id, None, NOW)
    assert uow.snapshot() == shipped


def test_an_ordinary_paid_order_is_not_cancelled_by_its_merchant() -> None:
    uow, sku_id = shop()
    order = _redemption_order(uow, sku_id)
    ordinary = Order(
        **{
            **{f: getattr(order, f) for f in order.__slots__},
            "order_id": "ord-plain",
            "redemption": None,
            "total_fen": 12_50,
            "money_fen": 12_50,
        }
    )
    with uow:
        uow.orders.add(ordinary)
    before = uow.snapshot()
    with pytest.raises(TransitionRefused), uow:
        orders.cancel(uow, BUYER, TENANT, "ord-plain", None, NOW)
    with pytest.raises(Forbidden), uow:
        orders.cancel(uow, SELLER, TENANT, "ord-plain", None, NOW)
    assert uow.snapshot() == before
    assert uow.token_orders.calls == []
