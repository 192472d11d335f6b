"""What the Alipay gateway's signing costs, against the local fake.

Run ``python tests/alipay_bench.py``; it prints milliseconds per operation (median of
rounds): building a gateway (the SDK loads and checks the private key), a pay URL (one RSA2
signature), a notify (one RSA2 verification and the form's checks) and a query (a signature,
a local HTTP round trip, a verification).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from alipay_fake import FakeAlipay, new_key, private_pem, public_base64
from tokenmall.adapters.payments.alipay_config import AlipayConfig
from tokenmall.adapters.payments.alipay_gateway import AlipayGateway

APP_ID, SELLER = "2021000123456789", "2088102177846880"


def per_op(action: Callable[[], object], count: int) -> float:
    start = time.perf_counter()
    for _ in range(count):
        action()
    return (time.perf_counter() - start) / count * 1e3  # float-ok: time


def main(rounds: int = 3) -> None:
    app_key = new_key()
    fake = FakeAlipay(app_id=APP_ID, seller_id=SELLER, app_public_key=app_key.public_key())
    fake.start()
    try:
        config = AlipayConfig(
            app_id=APP_ID,
            app_private_key=private_pem(app_key),
            alipay_public_key=public_base64(fake.key),
            seller_id=SELLER,
            gateway_url=fake.gateway_url,
        )

        def build() -> AlipayGateway:
            return AlipayGateway(config, tenant_id="acme", notify_url="https://x.example/n")

        gateway = build()
        created = gateway.create_payment(
            tenant_id="acme", payment_id="pay_1", order_id="o", amount_fen=1230
        )
        fake.open_cashier(created.redirect_url)
        body = fake.pay("pay_1")
        now = fake.trades["pay_1"].paid_at
        assert now is not None
        figures: dict[str, list[float]] = {
            "gateway built": [per_op(build, 3) for _ in range(rounds)],
            "pay URL": [
                per_op(lambda: gateway.pay_url(payment_id="p", order_id="o", amount_fen=1), 100)
                for _ in range(rounds)
            ],
            "notify verified": [
                per_op(lambda: gateway.verify_callback({}, body, now), 100) for _ in range(rounds)
            ],
            "query": [
                per_op(lambda: gateway.query_payment(provider_ref="pay_1"), 30)
                for _ in range(rounds)
            ],
        }
    finally:
        fake.stop()
    for name, values in figures.items():
        runs = " ".join(f"{value:.2f}" for value in values)
        print(f"{name:16} {statistics.median(values):8.2f} ms/op  (rounds: {runs})")


if __name__ == "__main__":
    main()
