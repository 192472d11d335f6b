"""Alipay's transfer behind the ``Payouts`` port, against the local fake: a transfer to an
account whose verified name matches succeeds, once per payout id; a refusal fails with Alipay's
reason (the money goes back); an unreachable Alipay leaves it processing (asked again)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from alipay_fake import FakeAlipay, new_key, private_pem, public_base64
from tokenmall.adapters.payments.alipay_config import AlipayConfig
from tokenmall.adapters.payments.alipay_gateway import AlipayGateway
from tokenmall.adapters.payments.alipay_transfers import AlipayPayouts
from tokenmall.domain.mall.payouts import PayoutResult, PayoutStatus

APP_ID = "2021000123456789"
SELLER = "2088102177846880"


@pytest.fixture
def fake() -> Iterator[tuple[FakeAlipay, AlipayPayouts]]:
    app_key = new_key()
    server = FakeAlipay(app_id=APP_ID, seller_id=SELLER, app_public_key=app_key.public_key())
    server.start()
    config = AlipayConfig(
        app_id=APP_ID,
        app_private_key=private_pem(app_key),
        alipay_public_key=public_base64(server.key),
        seller_id=SELLER,
        gateway_url=server.gateway_url,
        timeout_seconds=5.0,
    )
    gateway = AlipayGateway(config, tenant_id="acme", notify_url="https://x.example/n")
    yield server, AlipayPayouts(gateway)
    server.stop()


def _pay(payouts: AlipayPayouts, payout_id: str, account: str, name: str) -> PayoutResult:
    return payouts.transfer(
        payout_id=payout_id,
        amount_fen=12_34,
        channel="alipay",
        payee_account=account,
        payee_real_name=name,
        remark="withdrawal wd_1",
    )


def test_a_transfer_succeeds_once_per_payout_id(fake: tuple[FakeAlipay, AlipayPayouts]) -> None:
    server, payouts = fake
    server.accounts["zhang.san@example.com"] = "张三"
    first = _pay(payouts, "po_1", "zhang.san@example.com", "张三")
    assert first.status == PayoutStatus.SUCCEEDED
    assert first.channel_ref == server.transfers["po_1"]["order_id"]
    assert _pay(payouts, "po_1", "zhang.san@example.com", "张三") == first
    assert list(server.transfers) == ["po_1"]
    assert server.transfers["po_1"]["status"] == "SUCCESS"


def test_a_refusal_fails_with_alipays_reason(fake: tuple[FakeAlipay, AlipayPayouts]) -> None:
    server, payouts = fake
    server.accounts["li.si@example.com"] = "李四"
    wrong = _pay(payouts, "po_2", "li.si@example.com", "张三")
    assert wrong.status == PayoutStatus.FAILED
    assert "PAYEE_USERINFO_ERROR" in str(wrong.reason)
    nobody = _pay(payouts, "po_3", "nobody@example.com", "张三")
    assert nobody.status == PayoutStatus.FAILED
    assert "PAYEE_NOT_EXIST" in str(nobody.reason)


def test_an_unreachable_alipay_leaves_it_processing(fake: tuple[FakeAlipay, AlipayPayouts]) -> None:
    server, payouts = fake
    server.stop()
    unknown = _pay(payouts, "po_4", "zhang.san@example.com", "张三")
    assert unknown == PayoutResult(PayoutStatus.PROCESSING)
