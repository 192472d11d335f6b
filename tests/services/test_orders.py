"""The mall's own orders on the in-memory unit of work: checkout, payment (money through a fake
gateway, or stable points), shipping, receipt, completion, cancellation, expiry and refunds."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork
from fakes_orders import FakeGateway, FakeUnits

from tokenmall.domain.errors import InsufficientBalance
from tokenmall.domain.mall.errors import TransitionRefused
from tokenmall.domain.mall.gateway import CallbackRefused
from tokenmall.domain.mall.orders import Order, OrderStatus
from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.domain.mall.people import KycStatus, Role, User
from tokenmall.domain.mall.refunds import RefundStatus
from tokenmall.services.mall import cart, catalogue, order_clock, order_refunds, orders, payments
from tokenmall.services.mall.auth import Principal
from tokenmall.services.mall.checkout import checkout
from tokenmall.services.mall.errors import Conflict, Forbidden, InvalidInput, NotFound, OutOfStock

TENANT = "t1"
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
ADMIN = Principal("api_key", "cred-1", "usr-admin", TENANT, Role.ADMIN)
SELLER = Principal("session", "cred-2", "usr-seller", TENANT, Role.MERCHANT)
BUYER = Principal("session", "cred-4", "usr-buyer", TENANT, Role.CONSUMER)
STRANGER = Principal("session", "cred-5", "usr-other", TENANT, Role.CONSUMER)


def _user(user_id: str, role: Role) -> User:
    return User(
        TENANT, user_id, f"{user_id}@example.com", user_id, role, KycStatus.NONE, "c", None, NOW
    )


def shop(stock: int = 5) -> tuple[FakeUnitOfWork, str]:
    """A unit with one merchant (SELLER's), one SKU at 12.50 and BUYER's stable points 100.00."""
    uow = FakeUnitOfWork()
    uow.people.users[(TENANT, SELLER.subject_id)] = _user(SELLER.subject_id, Role.MERCHANT)
    uow.people.users[(TENANT, BUYER.subject_id)] = _user(BUYER.subject_id, Role.CONSUMER)
    uow.order_money.stable[(TENANT, BUYER.subject_id)] = 100_00
    with uow:
        catalogue.create_merchant(uow, ADMIN, TENANT, "Tea House", SELLER.subject_id, NOW)
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
    return uow, sku.sku_id


def _stock(uow: FakeUnitOfWork, sku_id: str) -> int:
    sku = uow.catalogue.get_sku(TENANT, sku_id)
    assert sku is not None
    return sku.stock


def _order(uow: FakeUnitOfWork, order_id: str) -> Order:
    found = uow.orders.get(TENANT, order_id)
    assert found is not None
    return found


def _checkout(
    uow: FakeUnitOfWork,
    sku_id: str,
    quantity: int = 2,
    method: str = "money",
    stable: str | None = None,
) -> tuple[Order, Payment | None]:
    with uow:
        done = checkout(
            uow,
            BUYER,
            TENANT,
            lines=[(sku_id, quantity)],
            payment_method=method,
            stable_amount=stable,
            gateway=GATEWAY,
            now=NOW,
        )
    (order,) = done.orders
    return order, done.payments.get(order.order_id)


def _pay(uow: FakeUnitOfWork, payment: Payment, event_id: str = "evt-1") -> None:
    body = GATEWAY.event(payment, event_id)
    payments.handle_callback(FakeUnits(uow), GATEWAY, {"signature": "good"}, body, NOW)


def _ship(uow: FakeUnitOfWork, who: Principal, order_id: str) -> Order:
    return orders.ship(uow, who, TENANT, order_id, carrier=None, tracking_number=None, now=NOW)


GATEWAY = FakeGateway()


def test_an_order_goes_from_checkout_through_payment_to_completion() -> None:
    uow, sku_id = shop()
    with uow:
        cart.add_line(uow, BUYER, TENANT, sku_id, 2, NOW)
        done = checkout(
            uow,
            BUYER,
            TENANT,
            lines=None,
            payment_method="money",
            stable_amount=None,
            gateway=GATEWAY,
            now=NOW,
        )
    (order,) = done.orders
    payment = done.payments[order.order_id]
    assert (order.status, order.total_fen, order.money_fen) == (OrderStatus.CREATED, 25_00, 25_00)
    assert order.pay_by == NOW + timedelta(minutes=30)
    assert _stock(uow, sku_id) == 3
    assert uow.carts.lines(TENANT, BUYER.subject_id) == []
    assert (payment.status, payment.amount_fen) == (PaymentStatus.PENDING, 25_00)

    _pay(uow, payment)
    paid = _order(uow, order.order_id)
    assert paid.status == OrderStatus.PAID
    assert paid.paid_at == NOW
    # grant_on = paid: the payment and the rewards in one batch, shown on the order.
    assert [j[1:] for j in uow.ledger.journals] == [
        (f"order:{order.order_id}:payment", "ReceivePayment"),
        (f"order:{order.order_id}:purchase", "Purchase"),
    ]
    assert (paid.rewards_points, paid.rewards_price) == ("25.00000000", "1.00000000")
    assert paid.rewards_contribution_fen == 2_50
    succeeded = replace(payment, status=PaymentStatus.SUCCEEDED, succeeded_at=NOW)
    assert uow.payments.get(TENANT, payment.payment_id) == succeeded

    with uow:
        shipped = orders.ship(
            uow, SELLER, TENANT, order.order_id, carrier="SF", tracking_number="1", now=NOW
        )
    assert (shipped.status, shipped.carrier, shipped.tracking_number) == ("shipped", "SF", "1")
    later = NOW + timedelta(days=1)
    with uow:
        received = orders.confirm_receipt(uow, BUYER, TENANT, order.order_id, later)
    assert (received.status, received.received_at) == (OrderStatus.RECEIVED, later)
    # The return window (7 days) is over seven days later: completed by the clock.
    window = later + timedelta(days=7)
    with uow:
        assert order_clock.complete_due_orders(uow, TENANT, window - timedelta(seconds=1)) == 0
        assert order_clock.complete_due_orders(uow, TENANT, window) == 1
    completed = _order(uow, order.order_id)
    assert completed.status == OrderStatus.COMPLETED
    assert uow.ledger.journals[-1][1:] == (f"order:{order.order_id}:complete", "Complete")
    with uow:
        view = orders.get_order(uow, BUYER, TENANT, order.order_id)
    assert [e.to_status for e in view.history] == [
        "created",
        "paid",
        "shipped",
        "received",
        "completed",
    ]
    assert [(e.actor) for e in view.history][1] == "gateway:fake"


def test_grant_on_completed_books_the_rewards_at_completion() -> None:
    uow, sku_id = shop()
    uow.ledger.grant_on = "completed"
    order, payment = _checkout(uow, sku_id)
    assert payment is not None
    _pay(uow, payment)
    assert not _order(uow, order.order_id).rewards_booked
    with uow:
        _ship(uow, SELLER, order.order_id)
        # Ten days after shipping the receipt is confirmed; seven more and it completes.
        assert order_clock.complete_due_orders(uow, TENANT, NOW + timedelta(days=10)) == 0
        assert _order(uow, order.order_id).status == OrderStatus.RECEIVED
        assert order_clock.complete_due_orders(uow, TENANT, NOW + timedelta(days=17)) == 1
    done = _order(uow, order.order_id)
    assert done.status == OrderStatus.COMPLETED
    assert done.rewards_booked
    assert [j[2] for j in uow.ledger.journals] == [
        "ReceivePayment",
        "Purchase",
        "Complete",
    ]


def test_an_order_paid_in_stable_points_is_paid_at_once() -> None:
    uow, sku_id = shop()
    order, payment = _checkout(uow, sku_id, method="stable")
    assert payment is None
    assert (order.status, order.stable_fen, order.money_fen) == (OrderStatus.PAID, 25_00, 0)
    assert uow.order_money.stable[(TENANT, BUYER.subject_id)] == 75_00
    assert uow.order_money.stable[(TENANT, order.merchant_id)] == 25_00
    assert uow.ledger.journals == []  # no money: nothing in escrow


def test_a_mixed_payment_takes_the_stable_part_and_opens_a_payment_for_the_rest() -> None:
    uow, sku_id = shop()
    order, payment = _checkout(uow, sku_id, method="mixed", stable="5.00")
    assert payment is not None
    assert (order.stable_fen, order.money_fen, payment.amount_fen) == (5_00, 20_00, 20_00)
    assert uow.order_money.stable[(TENANT, BUYER.subject_id)] == 95_00


def test_a_refused_checkout_changes_nothing() -> None:
    uow, sku_id = shop(stock=1)
    uow.order_money.stable[(TENANT, BUYER.subject_id)] = 10_00
    before = uow.snapshot()
    with pytest.raises(InsufficientBalance):
        _checkout(uow, sku_id, quantity=1, method="stable")
    with pytest.raises(OutOfStock):
        _checkout(uow, sku_id, quantity=2)
    with pytest.raises(InvalidInput):
        _checkout(uow, "no-such-sku")
    with pytest.raises(InvalidInput):
        _checkout(uow, sku_id, quantity=1, method="mixed", stable="12.50")
    assert uow.snapshot() == before


def test_a_consumer_cancels_an_unpaid_order_and_gets_stock_and_stable_points_back() -> None:
    uow, sku_id = shop()
    order, payment = _checkout(uow, sku_id, method="mixed", stable="5.00")
    assert payment is not None
    before = uow.snapshot()
    with pytest.raises(NotFound), uow:
        orders.cancel(uow, STRANGER, TENANT, order.order_id, None, NOW)
    assert uow.snapshot() == before
    with uow:
        cancelled = orders.cancel(uow, BUYER, TENANT, order.order_id, "changed my mind", NOW)
    assert (cancelled.status, cancelled.cancelled_at) == (OrderStatus.CANCELLED, NOW)
    assert _stock(uow, sku_id) == 5
    assert uow.order_money.stable[(TENANT, BUYER.subject_id)] == 100_00
    found = uow.payments.get(TENANT, payment.payment_id)
    assert found is not None
    assert found.status == PaymentStatus.CLOSED
    assert uow.orders.locks[-1] == order.order_id  # the order's row first
    # Money arriving now is recorded and given straight back.
    _pay(uow, payment, "evt-late")
    assert _order(uow, order.order_id).status == OrderStatus.CANCELLED


def test_a_paid_order_cannot_be_cancelled_and_the_refusal_changes_nothing() -> None:
    uow, sku_id = shop()
    order, payment = _checkout(uow, sku_id)
    assert payment is not None
    _pay(uow, payment)
    before = uow.snapshot()
    with pytest.raises(TransitionRefused), uow:
        orders.cancel(uow, BUYER, TENANT, order.order_id, None, NOW)
    with pytest.raises(Forbidden), uow:
        _ship(uow, BUYER, order.order_id)
    assert uow.snapshot() == before


def test_orders_past_their_payment_time_are_cancelled_by_the_clock() -> None:
    uow, sku_id = shop()
    order, _ = _checkout(uow, sku_id)
    with uow:
        assert order_clock.cancel_expired_orders(uow, TENANT, NOW + timedelta(minutes=29)) == 0
        assert order_clock.cancel_expired_orders(uow, TENANT, NOW + timedelta(minutes=30)) == 1
    expired = _order(uow, order.order_id)
    assert expired.status == OrderStatus.CANCELLED
    assert _stock(uow, sku_id) == 5
    with uow:
        view = orders.get_order(uow, ADMIN, TENANT, order.order_id)
    assert (view.history[-1].actor, view.history[-1].note) == ("system", "payment time ran out")


def test_the_gateways_callbacks_are_verified_and_applied_once() -> None:
    uow, sku_id = shop()
    order, payment = _checkout(uow, sku_id)
    assert payment is not None
    body = GATEWAY.event(payment, "evt-1")
    with pytest.raises(CallbackRefused) as bad:
        payments.handle_callback(FakeUnits(uow), GATEWAY, {"signature": "bad"}, body, NOW)
    assert bad.value.reason == "bad_signature"
    assert _order(uow, order.order_id).status == OrderStatus.CREATED
    _pay(uow, payment, "evt-1")
    with pytest.raises(CallbackRefused) as replayed:
        _pay(uow, payment, "evt-1")
    assert replayed.value.reason == "replayed"
    assert [c.outcome for c in uow.payments.callbacks] == ["refused", "accepted", "refused"]
    assert [j[2] for j in uow.ledger.journals] == ["ReceivePayment", "Purchase"]
    with uow:
        _, seen = payments.get_payment(uow, BUYER, TENANT, payment.payment_id)
    assert [(c.outcome, c.reason) for c in seen] == [
        ("accepted", "order paid"),
        ("refused", "replayed: this event was already processed"),
    ]


def test_a_refund_is_requested_then_approved_with_the_money_and_stock_back() -> None:
    uow, sku_id = shop()
    order, payment = _checkout(uow, sku_id, method="mixed", stable="5.00")
    assert payment is not None
    uow.ledger.grant_on = "completed"
    _pay(uow, payment)
    with uow:
        refund = order_refunds.request_refund(uow, BUYER, TENANT, order.order_id, "broken", NOW)
    assert refund.status == RefundStatus.REQUESTED
    before = uow.snapshot()
    with pytest.raises(Conflict), uow:
        order_refunds.request_refund(uow, BUYER, TENANT, order.order_id, "again", NOW)
    with pytest.raises(Conflict), uow:  # decided before shipping
        _ship(uow, SELLER, order.order_id)
    assert uow.snapshot() == before
    with uow:
        preview = order_refunds.preview_refund(
            uow, SELLER, TENANT, order.order_id, refund.refund_id
        )
    assert (preview.money_fen, preview.stable_fen, preview.stock_back) == (20_00, 5_00, True)
    assert preview.rewards is None
    with uow:
        refunded, decided = order_refunds.approve_refund(
            uow,
            SELLER,
            TENANT,
            order.order_id,
            refund.refund_id,
            note="sorry",
            gateway=GATEWAY,
            now=NOW,
        )
    assert refunded.status == OrderStatus.REFUNDED
    assert (decided.status, decided.payment_id) == (RefundStatus.SUCCEEDED, payment.payment_id)
    assert decided.provider_ref == f"gw-{refund.refund_id}"
    assert GATEWAY.refunds[-1] == (payment.provider_ref, refund.refund_id, 20_00)
    assert _stock(uow, sku_id) == 5
    assert uow.order_money.stable[(TENANT, BUYER.subject_id)] == 100_00
    assert uow.ledger.journals[-1][1:] == (f"order:{order.order_id}:refund", "RefundPayment")


def test_a_booked_order_is_refunded_by_an_admin_only() -> None:
    uow, sku_id = shop()
    order, payment = _checkout(uow, sku_id)
    assert payment is not None
    _pay(uow, payment)  # grant_on = paid: booked
    with uow:
        refund = order_refunds.request_refund(uow, BUYER, TENANT, order.order_id, "late", NOW)
    before = uow.snapshot()
    with pytest.raises(Forbidden), uow:
        order_refunds.approve_refund(
            uow,
            SELLER,
            TENANT,
            order.order_id,
            refund.refund_id,
            note=None,
            gateway=GATEWAY,
            now=NOW,
        )
    assert uow.snapshot() == before
    with uow:
        refunded, _ = order_refunds.approve_refund(
            uow,
            ADMIN,
            TENANT,
            order.order_id,
            refund.refund_id,
            note=None,
            gateway=GATEWAY,
            now=NOW,
        )
    assert refunded.status == OrderStatus.REFUNDED
    assert uow.ledger.journals[-1][2] == "RefundBooked"


def test_a_rejected_refund_leaves_the_order_as_it_was() -> None:
    uow, sku_id = shop()
    order, payment = _checkout(uow, sku_id)
    assert payment is not None
    _pay(uow, payment)
    with uow:
        refund = order_refunds.request_refund(uow, BUYER, TENANT, order.order_id, "meh", NOW)
        rejected = order_refunds.reject_refund(
            uow, SELLER, TENANT, order.order_id, refund.refund_id, note="no", now=NOW
        )
    assert (rejected.status, rejected.decision_note) == (RefundStatus.REJECTED, "no")
    assert _order(uow, order.order_id).status == OrderStatus.PAID
    assert _stock(uow, sku_id) == 3


def test_order_settings_are_an_admins_to_change() -> None:
    uow, _ = shop()
    before = uow.snapshot()
    with pytest.raises(Forbidden), uow:
        orders.update_settings(
            uow,
            SELLER,
            TENANT,
            return_window_days=3,
            payment_timeout_minutes=None,
            auto_confirm_days=None,
            now=NOW,
        )
    with pytest.raises(InvalidInput), uow:
        orders.update_settings(
            uow,
            ADMIN,
            TENANT,
            return_window_days=None,
            payment_timeout_minutes=None,
            auto_confirm_days=None,
            now=NOW,
        )
    assert uow.snapshot() == before
    with uow:
        changed = orders.update_settings(
            uow,
            ADMIN,
            TENANT,
            return_window_days=3,
            payment_timeout_minutes=None,
            auto_confirm_days=None,
            now=NOW,
        )
        assert orders.get_settings(uow, BUYER, TENANT) == changed
    assert (changed.return_window_days, changed.payment_timeout_minutes) == (3, 30)


def test_a_consumer_lists_only_their_own_orders() -> None:
    uow, sku_id = shop()
    order, _ = _checkout(uow, sku_id, quantity=1)
    with uow:
        mine = orders.list_orders(uow, BUYER, TENANT, status=None, after=None, limit=10)
        theirs = orders.list_orders(uow, STRANGER, TENANT, status=None, after=None, limit=10)
        sellers = orders.list_orders(uow, SELLER, TENANT, status="created", after=None, limit=10)
    assert [o.order_id for o in mine] == [order.order_id]
    assert theirs == []
    assert [o.order_id for o in sellers] == [order.order_id]
