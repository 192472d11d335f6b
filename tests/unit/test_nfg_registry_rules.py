"""The NFG registry's pure rules: the hold period before a gift, a token's metadata."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tokenmall.domain.nfg import gifting
from tokenmall.domain.nfg.metadata import display_serial, token_metadata, token_name
from tokenmall.domain.nfg.records import (
    Collection,
    CollectionStatus,
    PriceAsset,
    Token,
    TokenState,
)
from tokenmall.domain.nfg.rights import Rights

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def test_no_hold_period_allows_a_gift_at_once() -> None:
    assert gifting.transferable_at(T0, 0) == T0
    assert gifting.may_transfer(T0, 0, T0)


@pytest.mark.parametrize("days", [1, 7, 30])
def test_a_hold_period_counts_whole_days_from_acquisition(days: int) -> None:
    at = gifting.transferable_at(T0, days)
    assert at == T0 + timedelta(days=days)
    assert not gifting.may_transfer(T0, days, at - timedelta(microseconds=1))
    assert gifting.may_transfer(T0, days, at)


def test_a_negative_hold_period_is_a_bug() -> None:
    with pytest.raises(ValueError, match="0 days or more"):
        gifting.transferable_at(T0, -1)


def _collection(**extra: object) -> Collection:
    values: dict[str, object] = {
        "tenant_id": "wine",
        "collection_id": "col_x",
        "name": "2020 Reserve",
        "description": "A numbered bottle",
        "issuer_merchant_id": None,
        "edition_size": 1000,
        "price": 9900,
        "price_asset": PriceAsset.MONEY,
        "per_user_limit": 2,
        "rights": Rights(),
        "status": CollectionStatus.PUBLISHED,
        "created_at": T0,
    }
    values.update(extra)
    return Collection(**values)  # type: ignore[arg-type]


def test_metadata_has_the_nft_shape_with_serial_edition_state_and_rights() -> None:
    rights = Rights(
        may_buy=("sku_a", "sku_b"), discount_bps=500, voucher_sku_id="sku_v", entry="VIP"
    )
    collection = _collection(rights=rights, issuer_merchant_id="mer_1")
    token = Token("wine", "col_x", 17, "usr_a", TokenState.LOCKED, T0)
    document = token_metadata(collection, token, image="https://x/img", external_url="https://x/c")
    assert document["name"] == "2020 Reserve #17/1000"
    assert document["description"] == "A numbered bottle"
    assert document["image"] == "https://x/img"
    assert document["external_url"] == "https://x/c"
    attributes = document["attributes"]
    assert isinstance(attributes, list)
    pairs = [(a["trait_type"], a["value"]) for a in attributes]
    assert pairs == [
        ("serial", 17),
        ("edition_size", 1000),
        ("state", "locked"),
        ("issuer", "mer_1"),
        ("may_buy", "sku_a"),
        ("may_buy", "sku_b"),
        ("discount_bps", 500),
        ("voucher", "sku_v"),
        ("entry", "VIP"),
    ]


def test_metadata_without_media_or_rights() -> None:
    collection = _collection(edition_size=1)
    token = Token("wine", "col_x", 1, "usr_a", TokenState.HELD, T0)
    document = token_metadata(collection, token, image=None)
    assert document["image"] is None
    assert "external_url" not in document
    assert token_name(collection, 1) == "2020 Reserve #1/1"
    assert display_serial(3, 10) == "#3/10"
