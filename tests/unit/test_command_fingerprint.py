"""A command's fingerprint is what stored journals are compared with on every replay: it must
stay the same text, byte for byte, across releases."""

from __future__ import annotations

import hashlib
import json
from datetime import date

from tokenmall.domain.ledger import commands as c


def _by_formula(command: c.Command) -> str:
    text = json.dumps(command.request(), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def test_fingerprint_is_the_sha256_of_the_canonical_request() -> None:
    purchase = c.Purchase(
        tenant_id="t1", idempotency_key="k", user="张三", amount_fen=12_345, order_ref="o-1"
    )
    day = c.SettleDay(tenant_id="t1", idempotency_key="d", business_date=date(2026, 1, 2))
    for command in (purchase, day):
        assert command.fingerprint() == _by_formula(command)
    # and the key is not part of it, the request is
    same = c.Purchase(
        tenant_id="t1", idempotency_key="other", user="张三", amount_fen=12_345, order_ref="o-1"
    )
    assert same.fingerprint() == purchase.fingerprint()
    more = c.Purchase(
        tenant_id="t1", idempotency_key="k", user="张三", amount_fen=12_346, order_ref="o-1"
    )
    assert more.fingerprint() != purchase.fingerprint()
    # pinned: journals stored by earlier releases carry this very value
    pinned = "70a45e8f0145f292a6bce9e582a903f325dfd8ee8e1999eda49d9f2bf41083dd"
    assert purchase.fingerprint() == pinned
