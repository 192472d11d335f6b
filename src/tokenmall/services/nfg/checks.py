"""Checking a collection's fields as given at the edge: each refusal names its field.

Amounts arrive as decimal strings (money and stable points in yuan with 2 places, equity
points with up to 8) and leave as integers of minor units; every SKU a collection names (its
linked SKU, the SKUs of its rights) must be a SKU of the tenant, and of the issuing merchant
when a merchant issues it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from tokenmall.domain import money
from tokenmall.domain.errors import InvalidAmount
from tokenmall.domain.nfg.records import MAX_EDITION_SIZE, MAX_PER_USER_LIMIT, PriceAsset
from tokenmall.domain.nfg.rights import Rights, RightsInvalid, parse_rights
from tokenmall.services.mall import validate
from tokenmall.services.mall.errors import InvalidInput
from tokenmall.services.mall.uow import MallUnitOfWork

NAME_MAX = 200
DESCRIPTION_MAX = 4_000
ALLOW_LIST_MAX = 10_000


def name(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("name must be text", "name")
    return validate.text(value, "name", max_length=NAME_MAX)


def description(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidInput("description must be text", "description")
    cleaned = value.strip()
    if len(cleaned) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"description must be at most {DESCRIPTION_MAX} characters", "description"
        )
    if validate.has_control(cleaned):
        raise InvalidInput("description must not contain control characters", "description")
    return cleaned


def edition_size(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("edition_size must be a whole number", "edition_size")
    if not 1 <= value <= MAX_EDITION_SIZE:
        raise InvalidInput(
            f"edition_size must be between 1 and {MAX_EDITION_SIZE}, got {value}", "edition_size"
        )
    return value


def per_user_limit(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidInput("per_user_limit must be a whole number", "per_user_limit")
    if not 1 <= value <= MAX_PER_USER_LIMIT:
        raise InvalidInput(
            f"per_user_limit must be between 1 and {MAX_PER_USER_LIMIT}, got {value}",
            "per_user_limit",
        )
    return value


def price_asset(value: object) -> PriceAsset:
    try:
        return PriceAsset(str(value))
    except ValueError:
        raise InvalidInput(
            f"price_asset must be one of {', '.join(a.value for a in PriceAsset)}, got {value!r}",
            "price_asset",
        ) from None


def price(value: object, asset: PriceAsset) -> int:
    """The price in minor units of ``asset`` (0 allowed: a collection only granted)."""
    try:
        if asset == PriceAsset.EQUITY:
            return money.parse_points(value, "price", allow_zero=True)
        return money.parse_money(value, "price", allow_zero=True)
    except InvalidAmount as error:
        raise InvalidInput(str(error), "price") from None


def format_price(amount: int, asset: PriceAsset) -> str:
    if asset == PriceAsset.EQUITY:
        return money.format_points(amount)
    return money.format_money(amount)


def window(
    starts: datetime | None, ends: datetime | None
) -> tuple[datetime | None, datetime | None]:
    for field, value in (("sale_starts_at", starts), ("sale_ends_at", ends)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{field} must carry a time zone (e.g. +08:00 or Z)", field)
    if starts is not None and ends is not None and ends <= starts:
        raise InvalidInput("sale_ends_at must be after sale_starts_at", "sale_ends_at")
    return starts, ends


def _own_sku(
    unit: MallUnitOfWork, tenant_id: str, sku_id: str, issuer: str | None, field: str
) -> str:
    sku = unit.catalogue.get_sku(tenant_id, sku_id) if len(sku_id) <= 40 else None
    if sku is None:
        raise InvalidInput(f"{field}: {sku_id!r} is not a SKU of this shop", field)
    if issuer is not None:
        product = unit.catalogue.get_product(tenant_id, sku.product_id)
        if product is None or product.merchant_id != issuer:
            raise InvalidInput(f"{field}: {sku_id!r} is not a SKU of the issuing merchant", field)
    return sku_id


def linked_sku(
    unit: MallUnitOfWork, tenant_id: str, value: object, issuer: str | None
) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidInput("linked_sku_id must be a SKU id", "linked_sku_id")
    return _own_sku(unit, tenant_id, value.strip(), issuer, "linked_sku_id")


def rights(unit: MallUnitOfWork, tenant_id: str, value: object, issuer: str | None) -> Rights:
    try:
        parsed = parse_rights(value)
    except RightsInvalid as error:
        raise InvalidInput(str(error), error.field) from None
    for sku_id in parsed.may_buy:
        _own_sku(unit, tenant_id, sku_id, issuer, "rights.may_buy")
    if parsed.voucher_sku_id is not None:
        _own_sku(unit, tenant_id, parsed.voucher_sku_id, issuer, "rights.voucher")
    return parsed


def allow_list(unit: MallUnitOfWork, tenant_id: str, value: Sequence[object]) -> list[str]:
    if len(value) > ALLOW_LIST_MAX:
        raise InvalidInput(f"allow_list holds at most {ALLOW_LIST_MAX} users", "allow_list")
    users: list[str] = []
    for item in value:
        if not isinstance(item, str) or len(item) > 40:
            raise InvalidInput("allow_list must be a list of user ids", "allow_list")
        if unit.people.get_user(tenant_id, item) is None:
            raise InvalidInput(f"allow_list: no user {item!r} in this shop", "allow_list")
        users.append(item)
    return list(dict.fromkeys(users))


def media(unit: MallUnitOfWork, tenant_id: str, value: object) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > 40:
        raise InvalidInput("media_id must be the id of an uploaded image", "media_id")
    if unit.nfg.get_media(tenant_id, value) is None:
        raise InvalidInput(f"media_id: no uploaded image {value!r}", "media_id")
    return value
