"""The mall's payment use cases with the Alipay gateway against the local fake Alipay: an order
paid by a notify, a replayed or changed notify refused with nothing changed, query-on-return,
and a refund through Alipay with our refund id."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from fakes import FakeUnitOfWork
from fakes_orders import FakeUnits
from test_orders import BUYER, NOW, SELLER, TENANT, _order, shop

from alipay_fake import FakeAlipay, new_key, private_pem, public_base64
from tokenmall.adapters.payments.alipay_config import AlipayConfig
from tokenmall.adapters.payments.alipay_gateway import AlipayGateway
from tokenmall.adapters.payments.alipay_notify import answer_for
from tokenmall.domain.mall.gateway import CallbackRefused
from tokenmall.domain.mall.orders import Order, OrderStatus
from tokenmall.domain.mall.payments import Payment, PaymentStatus
from tokenmall.services.mall import order_refunds, payments
from tokenmall.services.mall.checkout import checkout

APP_ID, SELLER_ID = "2021000123456789", "2088102177846880"


@pytest.fixture(scope="module")
def app_key() -> rsa.RSAPrivateKey:
    return new_key()


@pytest.fixture
def fake(app_key: rsa.RSAPrivateKey) -> Iterator[FakeAlipay]:
    server = FakeAlipay(app_id=APP_ID, seller_id=SELLER_ID, app_public_key=app_key.public_key())
    server.start()
    yield server
    server.stop()


@pytest.fixture
def gateway(fake: FakeAlipay, app_key: rsa.RSAPrivateKey) -> AlipayGateway:
    config = AlipayConfig(
        app_id=APP_ID,
        app_private_key=private_pem(app_key),
        alipay_public_key=public_base64(fake.key),
        seller_id=SELLER_ID,
        gateway_url=fake.gateway_url,
    )
    return AlipayGateway(config, tenant_id=TENANT, notify_url="https://mall.example.com/n")


def ordered(gateway: AlipayGateway) -> tuple[FakeUnitOfWork, Order, Payment]:
    uow, sku_id = shop()
    with uow:
        done = checkout(
            uow,
            BUYER,
            TENANT,
            lines=[(sku_id, 2)],
            payment_method="money",
            stable_amount=None,
            gateway=gateway,
            now=NOW,
        )
    (order,) = done.orders
    return uow, order, done.payments[order.order_id]


def money_state(uow: FakeUnitOfWork) -> tuple[object, ...]:
    """What a callback may change: payments, events seen, orders, the ledger's journals (a
    refused callback is only recorded among the callbacks)."""
    return (
        dict(uow.payments.rows),
        set(uow.payments.seen),
        dict(uow.orders.rows),
        list(uow.orders.events),
        list(uow.ledger.journals),
    )


def notify(uow: FakeUnitOfWork, gateway: AlipayGateway, body: bytes) -> str | None:
    """The notify handled as the web's route would: the refusal's reason, None if accepted."""
    try:
        payments.handle_callback(FakeUnits(uow), gateway, {}, body, NOW)
    except CallbackRefused as refused:
        return refused.reason
    return None


def test_an_order_is_paid_by_alipays_notify_once(gateway: AlipayGateway, fake: FakeAlipay) -> None:
    uow, order, payment = ordered(gateway)
    assert (payment.gateway, payment.provider_ref) == ("alipay", payment.payment_id)
    trade = fake.open_cashier(payment.redirect_url or "")
    assert trade.total_fen == order.money_fen == 25_00
    body = fake.pay(trade.out_trade_no)
    assert notify(uow, gateway, body) is None
    assert _order(uow, order.order_id).status == OrderStatus.PAID
    paid = uow.payments.get(TENANT, payment.payment_id)
    assert paid is not None
    assert paid.status == PaymentStatus.SUCCEEDED
    before = money_state(uow)
    reason = notify(uow, gateway, body)  # Alipay delivers it again
    assert reason == "replayed"
    assert answer_for(reason) == b"success"
    assert money_state(uow) == before


def test_a_notify_of_another_amount_changes_nothing(
    gateway: AlipayGateway, fake: FakeAlipay
) -> None:
    uow, order, payment = ordered(gateway)
    trade = fake.open_cashier(payment.redirect_url or "")
    fake.pay(trade.out_trade_no)
    before = money_state(uow)
    tampered = fake.notify_body(trade).replace(b"total_amount=25.00", b"total_amount=0.01")
    assert notify(uow, gateway, tampered) == "bad_signature"
    signed_other = fake.notify_body(trade, total_amount="0.01")  # signed, but not the order's
    reason = notify(uow, gateway, signed_other)
    assert reason == "amount_mismatch"
    assert answer_for(reason) == b"failure"
    assert money_state(uow) == before
    assert [c.outcome for c in uow.payments.callbacks] == ["refused", "refused"]
    assert _order(uow, order.order_id).status == OrderStatus.CREATED


def test_query_on_return_pays_and_the_late_notify_is_a_replay(
    gateway: AlipayGateway, fake: FakeAlipay
) -> None:
    uow, order, payment = ordered(gateway)
    trade = fake.open_cashier(payment.redirect_url or "")
    assert gateway.query_payment(provider_ref=payment.provider_ref) is None
    late = fake.pay(trade.out_trade_no)
    event = gateway.query_payment(provider_ref=payment.provider_ref)
    assert event is not None
    with uow:
        payments.apply_callback(uow, gateway, event, "query", NOW)
    assert _order(uow, order.order_id).status == OrderStatus.PAID
    assert notify(uow, gateway, late) == "replayed"


def test_an_approved_refund_goes_back_through_alipay(
    gateway: AlipayGateway, fake: FakeAlipay
) -> None:
    uow, order, payment = ordered(gateway)
    uow.ledger.grant_on = "completed"  # no rewards booked yet: the merchant may refund
    trade = fake.open_cashier(payment.redirect_url or "")
    assert notify(uow, gateway, fake.pay(trade.out_trade_no)) is None
    with uow:
        refund = order_refunds.request_refund(uow, BUYER, TENANT, order.order_id, "broken", NOW)
    with uow:
        refunded, decided = order_refunds.approve_refund(
            uow,
            SELLER,
            TENANT,
            order.order_id,
            refund.refund_id,
            note=None,
            gateway=gateway,
            now=NOW,
        )
    assert refunded.status == OrderStatus.REFUNDED
    assert trade.refunds == {refund.refund_id: 25_00}
    assert trade.status == "TRADE_CLOSED"
    assert decided.provider_ref == f"{trade.trade_no}:{refund.refund_id}"
    assert uow.ledger.journals[-1][1:] == (f"order:{order.order_id}:refund", "RefundPayment")
