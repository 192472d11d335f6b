"""The Alipay gateway against a local fake Alipay (``tests/alipay_fake.py``): the SDK signs the
requests and checks the answers and notifies, the fake signs with RSA-2048 keys made here."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from alipay_fake import (
    Certificates,
    FakeAlipay,
    cert_pem,
    new_key,
    private_pem,
    public_base64,
    rsa2_sign,
    unsigned_text,
)
from tokenmall.adapters.payments.alipay_config import (
    SANDBOX_GATEWAY,
    AlipayConfig,
    AlipayConfigError,
    alipay_client,
)
from tokenmall.adapters.payments.alipay_gateway import (
    AlipayBillNotReady,
    AlipayError,
    AlipayGateway,
    AlipayUnavailable,
)
from tokenmall.adapters.payments.alipay_notify import ACK, NACK, answer_for
from tokenmall.domain.mall.gateway import CallbackRefused

APP_ID = "2021000123456789"
SELLER = "2088102177846880"
TENANT = "acme"
NOW = datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
PAY = "pay_01jf0000000000000000000001"


@pytest.fixture(scope="module")
def app_key():  # type: ignore[no-untyped-def]
    return new_key()


@pytest.fixture
def fake(app_key) -> Iterator[FakeAlipay]:  # type: ignore[no-untyped-def]
    server = FakeAlipay(app_id=APP_ID, seller_id=SELLER, app_public_key=app_key.public_key())
    server.start()
    yield server
    server.stop()


def config_for(fake: FakeAlipay, app_key, **changes: object) -> AlipayConfig:  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "app_id": APP_ID,
        "app_private_key": private_pem(app_key),
        "alipay_public_key": public_base64(fake.key),
        "seller_id": SELLER,
        "gateway_url": fake.gateway_url,
        "timeout_seconds": 5.0,
    }
    values.update(changes)
    return AlipayConfig(**values)  # type: ignore[arg-type]


@pytest.fixture
def gateway(fake: FakeAlipay, app_key) -> AlipayGateway:  # type: ignore[no-untyped-def]
    return AlipayGateway(
        config_for(fake, app_key),
        tenant_id=TENANT,
        notify_url="https://mall.example.com/webhooks/alipay/acme",
        return_url="https://mall.example.com/orders/o1",
    )


def opened(gateway: AlipayGateway, fake: FakeAlipay, fen: int = 12_30, pay: str = PAY):  # type: ignore[no-untyped-def]
    created = gateway.create_payment(
        tenant_id=TENANT, payment_id=pay, order_id="ord_1", amount_fen=fen
    )
    return created, fake.open_cashier(created.redirect_url)


def refused(gateway: AlipayGateway, body: bytes) -> CallbackRefused:
    with pytest.raises(CallbackRefused) as caught:
        gateway.verify_callback({}, body, NOW)
    return caught.value


# -- paying ------------------------------------------------------------------------------------


def test_wap_and_page_pay_urls_are_signed_for_the_cashier(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    created, trade = opened(gateway, fake)
    assert created.provider_ref == PAY
    assert created.redirect_url.startswith(fake.gateway_url + "?")
    params = dict(parse_qsl(urlsplit(created.redirect_url).query))
    assert params["method"] == "alipay.trade.wap.pay"
    assert params["notify_url"] == "https://mall.example.com/webhooks/alipay/acme"
    assert params["return_url"] == "https://mall.example.com/orders/o1"
    assert '"total_amount":"12.30"' in params["biz_content"]
    assert '"product_code":"QUICK_WAP_PAY"' in params["biz_content"]
    assert (trade.total_fen, trade.passback, trade.status) == (1230, TENANT, "WAIT_BUYER_PAY")
    page = gateway.pay_url(payment_id="pay_x", order_id="ord_2", amount_fen=1, mode="page")
    page_params = dict(parse_qsl(urlsplit(page).query))
    assert page_params["method"] == "alipay.trade.page.pay"
    assert '"product_code":"FAST_INSTANT_TRADE_PAY"' in page_params["biz_content"]
    assert fake.open_cashier(page).total_fen == 1


def test_a_pay_url_changed_after_signing_no_longer_verifies(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    created = gateway.create_payment(tenant_id=TENANT, payment_id=PAY, order_id="o", amount_fen=100)
    forged = created.redirect_url.replace("1.00", "0.01")
    assert forged != created.redirect_url
    with pytest.raises(AssertionError, match="signature"):
        fake.open_cashier(forged)


def test_a_payment_for_another_tenant_or_of_nothing_is_refused(gateway) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AlipayError, match="another tenant"):
        gateway.create_payment(tenant_id="other", payment_id=PAY, order_id="o", amount_fen=1)
    with pytest.raises(AlipayError, match="positive"):
        gateway.create_payment(tenant_id=TENANT, payment_id=PAY, order_id="o", amount_fen=0)


# -- notifies ----------------------------------------------------------------------------------


def test_a_good_notify_is_a_payment_event_in_fen(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake, fen=99_999_99)
    event = gateway.verify_callback({}, fake.pay(trade.out_trade_no), NOW)
    assert event.type == "payment.succeeded"
    assert event.amount_fen == 99_999_99
    assert isinstance(event.amount_fen, int)
    assert (event.gateway, event.tenant_id, event.payment_id) == ("alipay", TENANT, PAY)
    assert event.provider_ref == PAY
    assert event.event_id == f"alipay:{trade.trade_no}"
    assert event.paid_at == datetime(2026, 12, 5, 2, 0, tzinfo=UTC)
    assert answer_for(None) == ACK == b"success"


def test_trade_finished_is_paid_too_and_the_same_event(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake)
    first = gateway.verify_callback({}, fake.pay(trade.out_trade_no), NOW)
    finished = fake.notify_body(trade, trade_status="TRADE_FINISHED")
    assert gateway.verify_callback({}, finished, NOW) == first


def test_a_replayed_notify_is_the_same_event(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake)
    body = fake.pay(trade.out_trade_no)
    again = fake.notify_body(trade, notify_id="another-delivery", notify_time="2026-12-05 10:05:00")
    first = gateway.verify_callback({}, body, NOW)
    assert gateway.verify_callback({}, body, NOW) == first
    assert gateway.verify_callback({}, again, NOW).event_id == first.event_id
    assert answer_for("replayed") == ACK


def test_a_forged_signature_is_refused(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake)
    fake.pay(trade.out_trade_no)
    fields = fake.notify_fields(trade)
    forger = new_key()
    text = unsigned_text(fields, skip=("sign", "sign_type"))
    body = urlencode({**fields, "sign_type": "RSA2", "sign": rsa2_sign(forger, text)}).encode()
    error = refused(gateway, body)
    assert error.reason == "bad_signature"
    assert answer_for(error.reason) == NACK == b"failure"
    no_sign = urlencode(fields).encode()
    assert refused(gateway, no_sign).reason == "missing_signature"
    garbage = urlencode({**fields, "sign_type": "RSA2", "sign": "%%%not base64"}).encode()
    assert refused(gateway, garbage).reason == "bad_signature"
    rsa1 = urlencode({**fields, "sign_type": "RSA", "sign": rsa2_sign(fake.key, text)}).encode()
    assert refused(gateway, rsa1).reason == "missing_signature"


def test_a_changed_amount_breaks_the_signature_and_a_signed_one_is_read_exactly(  # type: ignore[no-untyped-def]
    gateway, fake
) -> None:
    _, trade = opened(gateway, fake, fen=1230)
    body = fake.pay(trade.out_trade_no)
    tampered = body.replace(b"total_amount=12.30", b"total_amount=0.01")
    assert tampered != body
    assert refused(gateway, tampered).reason == "bad_signature"
    # Signed by Alipay with another amount: read exactly; the mall compares it with the order.
    other = fake.notify_body(trade, total_amount="12.31")
    assert gateway.verify_callback({}, other, NOW).amount_fen == 1231
    for bad in ("12.301", "-1.00", "1e3", "", "１２.30"):
        assert refused(gateway, fake.notify_body(trade, total_amount=bad)).reason == "bad_amount"


def test_wrong_app_seller_or_tenant_is_refused(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake)
    fake.pay(trade.out_trade_no)
    app = refused(gateway, fake.notify_body(trade, app_id="2021000999999999"))
    seller = refused(gateway, fake.notify_body(trade, seller_id="2088000000000001"))
    tenant = refused(gateway, fake.notify_body(trade, passback_params="other"))
    assert (app.reason, seller.reason, tenant.reason) == (
        "wrong_app",
        "wrong_seller",
        "wrong_tenant",
    )
    assert answer_for(app.reason) == NACK


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not a form",
        "trade_no=１".encode(),
        b"a=1&a=2&sign=x",
        b"charset=latin9&sign=x",
        b"x" * (64 * 1024 + 1),
        b"trade_no=%FF%FE&sign=x",
    ],
)
def test_a_malformed_body_is_refused_as_malformed(gateway, body: bytes) -> None:  # type: ignore[no-untyped-def]
    error = refused(gateway, body)
    assert error.kind == "malformed", error.reason
    assert answer_for(error.reason) == NACK


def test_signed_but_incomplete_notifies_are_refused(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake)
    fake.pay(trade.out_trade_no)
    assert refused(gateway, fake.notify_body(trade, trade_status="NOPE")).reason == "bad_body"
    assert refused(gateway, fake.notify_body(trade, out_trade_no="../x")).reason == "bad_body"
    fields = fake.notify_fields(trade)
    del fields["trade_no"]
    assert refused(gateway, fake.sign_notify(fields)).reason == "bad_body"


def test_gbk_notifies_are_decoded_in_their_charset(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake)
    fake.pay(trade.out_trade_no)
    fields = fake.notify_fields(trade, charset="gbk", subject="中文商品")
    text = unsigned_text(fields, skip=("sign", "sign_type"))
    signed = {**fields, "sign_type": "RSA2", "sign": rsa2_sign(fake.key, text)}
    body = urlencode(signed, encoding="gbk").encode("ascii")
    assert gateway.verify_callback({}, body, NOW).amount_fen == 1230


def test_closed_waiting_and_refund_notifies(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake)
    waiting = refused(gateway, fake.notify_body(trade))
    assert (waiting.reason, answer_for(waiting.reason)) == ("not_final", ACK)
    closed = gateway.verify_callback({}, fake.notify_body(trade, trade_status="TRADE_CLOSED"), NOW)
    assert closed.type == "payment.failed"
    assert closed.event_id.endswith(":closed")
    assert closed.reason
    assert closed.paid_at is None
    refund = fake.notify_body(
        trade, refund_fee="1.00", gmt_refund="2026-12-05 11:00:00", out_biz_no="rf_1"
    )
    notice = gateway.read_notify(refund)
    assert notice.event is None
    assert notice.refund is not None
    assert (notice.refund.refund_id, notice.refund.refunded_fen) == ("rf_1", 100)
    assert refused(gateway, refund).reason == "refund_notice"
    assert answer_for("refund_notice") == ACK


# -- query, close, refund ----------------------------------------------------------------------


def test_query_is_none_while_open_and_the_notify_event_once_paid(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    assert gateway.query_payment(provider_ref=PAY) is None  # Alipay has not seen it yet
    _, trade = opened(gateway, fake, fen=500)
    assert gateway.query_payment(provider_ref=PAY) is None  # open, waiting for the buyer
    notify = gateway.verify_callback({}, fake.pay(trade.out_trade_no), NOW)
    queried = gateway.query_payment(provider_ref=PAY)
    assert queried == notify  # the late notify after a query-on-return is a replay


def test_close_an_open_payment_then_query_says_failed(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    gateway.close_payment(provider_ref=PAY)  # not seen at Alipay: nothing to close
    _, trade = opened(gateway, fake)
    gateway.close_payment(provider_ref=PAY)
    assert trade.status == "TRADE_CLOSED"
    event = gateway.query_payment(provider_ref=PAY)
    assert event is not None
    assert event.type == "payment.failed"


def test_closing_a_paid_payment_is_refused_and_changes_nothing(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake)
    fake.pay(trade.out_trade_no)
    with pytest.raises(AlipayError) as caught:
        gateway.close_payment(provider_ref=PAY)
    assert caught.value.sub_code == "ACQ.TRADE_STATUS_ERROR"
    assert trade.status == "TRADE_SUCCESS"


def test_partial_refund_then_full_idempotent_by_refund_id(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake, fen=1000)
    fake.pay(trade.out_trade_no)
    first = gateway.refund(provider_ref=PAY, refund_id="rf_1", amount_fen=300, reason="破损")
    assert first.status == "succeeded"
    assert first.provider_ref == f"{trade.trade_no}:rf_1"
    again = gateway.refund(provider_ref=PAY, refund_id="rf_1", amount_fen=300, reason="破损")
    assert again == first
    assert trade.refunds == {"rf_1": 300}
    rest = gateway.refund(provider_ref=PAY, refund_id="rf_2", amount_fen=700, reason="退货")
    assert rest.status == "succeeded"
    assert trade.refunds == {"rf_1": 300, "rf_2": 700}
    assert trade.status == "TRADE_CLOSED"
    # Refunded whole, the trade is closed: Alipay refuses one fen more (a failed refund with
    # Alipay's words, not an error of the call)
    over = gateway.refund(provider_ref=PAY, refund_id="rf_3", amount_fen=1, reason="")
    assert (over.status, over.provider_ref) == ("failed", "")
    assert over.reason is not None
    assert "ACQ.TRADE_STATUS_ERROR" in over.reason
    assert trade.refunds == {"rf_1": 300, "rf_2": 700}


def test_a_refund_over_the_total_or_with_a_changed_amount_is_refused(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake, fen=1000)
    fake.pay(trade.out_trade_no)
    over = gateway.refund(provider_ref=PAY, refund_id="rf_1", amount_fen=1001, reason="")
    assert over.status == "failed"
    assert over.reason is not None
    assert "REFUND_AMT" in over.reason
    assert gateway.refund(provider_ref=PAY, refund_id="rf_1", amount_fen=100, reason="").status == (
        "succeeded"
    )
    changed = gateway.refund(provider_ref=PAY, refund_id="rf_1", amount_fen=200, reason="")
    assert changed.status == "failed"
    assert changed.reason is not None
    assert "REFUND_AMT" in changed.reason
    assert trade.refunds == {"rf_1": 100}


def test_a_refund_alipay_has_not_confirmed_is_processing_not_succeeded(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    _, trade = opened(gateway, fake, fen=1000)
    fake.pay(trade.out_trade_no)
    fake.refund_pending = True
    pending = gateway.refund(provider_ref=PAY, refund_id="rf_1", amount_fen=100, reason="")
    assert (pending.status, pending.provider_ref) == ("processing", f"{trade.trade_no}:rf_1")
    fake.refund_pending = False  # Alipay finished it: asking again confirms it
    done = gateway.refund(provider_ref=PAY, refund_id="rf_1", amount_fen=100, reason="")
    assert done.status == "succeeded"
    assert trade.refunds == {"rf_1": 100}


# -- answers that do not verify, Alipay unreachable --------------------------------------------


def test_an_answer_signed_by_another_key_is_unavailable(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    opened(gateway, fake)
    fake.key = new_key()  # the answers are now signed by a key the config does not trust
    with pytest.raises(AlipayUnavailable, match="signature"):
        gateway.query_payment(provider_ref=PAY)


def test_alipay_unreachable_is_unavailable(fake, app_key) -> None:  # type: ignore[no-untyped-def]
    config = config_for(fake, app_key)
    fake.stop()
    gateway = AlipayGateway(config, tenant_id=TENANT, notify_url="https://x.example/n")
    with pytest.raises(AlipayUnavailable, match="reached"):
        gateway.query_payment(provider_ref=PAY)
    result = gateway.transfer(
        payout_id="po_1", amount_fen=100, payee_account="a@b.cn", payee_real_name="张三", remark=""
    )
    assert result.status == "pending"  # unknown: asked again with the same payout id


def test_a_request_alipay_cannot_verify_is_an_error(fake, app_key) -> None:  # type: ignore[no-untyped-def]
    config = config_for(fake, app_key, app_private_key=private_pem(new_key()))
    gateway = AlipayGateway(config, tenant_id=TENANT, notify_url="https://x.example/n")
    with pytest.raises(AlipayError, match="40002"):
        gateway.query_payment(provider_ref=PAY)
    assert fake.requests == []


# -- configuration -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("app_id", "abc"),
        ("seller_id", "1234"),
        ("gateway_url", "ftp://openapi.alipay.com/gateway.do"),
        ("gateway_url", "http://openapi.alipay.com/gateway.do"),
        ("timeout_express", "30 minutes"),
        ("app_private_key", ""),
        ("app_private_key", "not base64 !"),
        ("app_private_key", "aGVsbG8="),
        ("alipay_public_key", "-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----"),
    ],
)
def test_a_bad_config_names_its_field(fake, app_key, field: str, value: str) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AlipayConfigError) as caught:
        alipay_client(config_for(fake, app_key, **{field: value}))
    assert caught.value.field == field


def test_keys_swapped_are_refused_and_never_shown(fake, app_key) -> None:  # type: ignore[no-untyped-def]
    swapped = config_for(fake, app_key, alipay_public_key=private_pem(app_key))
    with pytest.raises(AlipayConfigError) as caught:
        alipay_client(swapped)
    assert caught.value.field == "alipay_public_key"
    public_as_private = config_for(fake, app_key, app_private_key=public_base64(app_key))
    with pytest.raises(AlipayConfigError) as caught:
        alipay_client(public_as_private)
    assert caught.value.field == "app_private_key"
    assert "PRIVATE" not in repr(swapped)
    assert public_base64(fake.key) not in repr(swapped)


def test_the_sandbox_environment_url(fake, app_key) -> None:  # type: ignore[no-untyped-def]
    config = config_for(fake, app_key, gateway_url=SANDBOX_GATEWAY)
    assert config.is_sandbox
    assert alipay_client(config)._gateway == SANDBOX_GATEWAY


# -- certificate mode -------------------------------------------------------------------------


def cert_config(fake: FakeAlipay, app_key, certs: Certificates, **changes: object) -> AlipayConfig:  # type: ignore[no-untyped-def]
    values: dict[str, object] = {
        "alipay_public_key": "",
        "app_cert": cert_pem(certs.app_cert),
        "alipay_cert": cert_pem(certs.alipay_cert),
        "alipay_root_cert": cert_pem(certs.root_cert),
    }
    values.update(changes)
    return config_for(fake, app_key, **values)


def test_certificate_mode_names_the_serials_and_pays_out(fake, app_key) -> None:  # type: ignore[no-untyped-def]
    certs = Certificates.issue(app_key, fake.key)
    fake.certificates = certs  # the fake now refuses requests without the right serials
    fake.accounts["13800000000"] = "张三"
    gateway = AlipayGateway(
        cert_config(fake, app_key, certs), tenant_id=TENANT, notify_url="https://x.example/n"
    )
    result = gateway.transfer(
        payout_id="po_9", amount_fen=5000, payee_account="13800000000", payee_real_name="张三",
        remark="提现",
    )  # fmt: skip
    assert result.status == "succeeded"
    _, trade = opened(gateway, fake)
    event = gateway.verify_callback({}, fake.pay(trade.out_trade_no), NOW)  # key from the cert
    assert event.amount_fen == 1230
    plain = AlipayGateway(config_for(fake, app_key), tenant_id=TENANT, notify_url="https://x/n")
    with pytest.raises(AlipayError, match="40002"):
        plain.query_payment(provider_ref=PAY)  # without the serials Alipay refuses


@pytest.mark.parametrize("field", ["app_cert", "alipay_cert", "alipay_root_cert"])
def test_certificate_mode_needs_all_three_certificates(fake, app_key, field: str) -> None:  # type: ignore[no-untyped-def]
    certs = Certificates.issue(app_key, fake.key)
    with pytest.raises(AlipayConfigError) as caught:
        alipay_client(cert_config(fake, app_key, certs, **{field: ""}))
    assert caught.value.field == field


def test_an_app_certificate_of_another_key_is_refused(fake, app_key) -> None:  # type: ignore[no-untyped-def]
    certs = Certificates.issue(new_key(), fake.key)
    with pytest.raises(AlipayConfigError) as caught:
        alipay_client(cert_config(fake, app_key, certs))
    assert caught.value.field == "app_cert"


# -- payouts -----------------------------------------------------------------------------------


def test_a_transfer_to_a_registered_account_succeeds_once(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    fake.accounts["alice@example.com"] = "张三"
    result = gateway.transfer(
        payout_id="po_1",
        amount_fen=12_34,
        payee_account="alice@example.com",
        payee_real_name="张三",
        remark="提现 wd_1",
    )
    assert result.status == "succeeded"
    assert result.channel_ref
    assert result.reason is None
    again = gateway.transfer(
        payout_id="po_1",
        amount_fen=12_34,
        payee_account="alice@example.com",
        payee_real_name="张三",
        remark="提现 wd_1",
    )
    assert again == result
    assert len(fake.transfers) == 1
    method, biz = fake.requests[-1]
    assert method == "alipay.fund.trans.uni.transfer"
    assert biz["trans_amount"] == "12.34"
    assert biz["payee_info"]["identity_type"] == "ALIPAY_LOGON_ID"


def test_a_transfer_whose_real_name_does_not_match_fails_with_the_reason(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    fake.accounts["2088102122524333"] = "张三"
    result = gateway.transfer(
        payout_id="po_2",
        amount_fen=100,
        payee_account="2088102122524333",
        payee_real_name="李四",
        remark="",
    )
    assert result.status == "failed"
    assert result.reason_code == "PAYEE_USERINFO_ERROR"
    assert result.reason is not None
    assert "姓名" in result.reason
    assert fake.requests[-1][1]["payee_info"]["identity_type"] == "ALIPAY_USER_ID"
    missing = gateway.transfer(
        payout_id="po_3", amount_fen=100, payee_account="nobody@x.cn", payee_real_name="王五",
        remark="",
    )  # fmt: skip
    assert (missing.status, missing.reason_code) == ("failed", "PAYEE_NOT_EXIST")


# -- bills -------------------------------------------------------------------------------------


def test_the_day_bill_is_downloaded_and_read(gateway, fake) -> None:  # type: ignore[no-untyped-def]
    day = date(2026, 12, 5)
    _, first = opened(gateway, fake, fen=1000, pay="pay_a")
    _, second = opened(gateway, fake, fen=250, pay="pay_b")
    fake.pay(first.out_trade_no)
    fake.pay(second.out_trade_no)
    gateway.refund(provider_ref="pay_a", refund_id="rf_1", amount_fen=300, reason="")
    fake.publish_bill(day)
    lines = gateway.download_bill(day=day)
    summary = [(x.out_trade_no, x.kind, x.amount_fen, x.refund_id) for x in lines]
    assert summary == [
        ("pay_a", "payment", 1000, None),
        ("pay_a", "refund", 300, "rf_1"),
        ("pay_b", "payment", 250, None),
    ]
    assert lines[0].trade_no == first.trade_no
    assert lines[0].at == datetime(2026, 12, 5, 10, 0, tzinfo=timezone(timedelta(hours=8)))
    assert [x.entry().ref for x in lines] == ["pay_a", "rf_1", "pay_b"]
    assert fake.requests[-1] == (
        "alipay.data.dataservice.bill.downloadurl.query",
        {"bill_type": "trade", "bill_date": "2026-12-05"},
    )


def test_a_day_without_a_bill_is_not_ready(gateway) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(AlipayBillNotReady):
        gateway.download_bill(day=date(2026, 12, 4))
