"""Request and response models of a consumer's address book (see web/api/schemas.py's rules:
unknown fields refused, nothing coerced)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field

from tokenmall.domain.mall import addresses as rules
from tokenmall.domain.mall.addresses import Address
from tokenmall.web.api.schemas import Request, Response

Recipient = Annotated[str, Field(max_length=rules.RECIPIENT_MAX, description="Who receives it")]
Phone = Annotated[
    str,
    Field(
        max_length=rules.PHONE_MAX,
        description="A mobile number (11 digits, 13-19…) or a landline such as 0571-88886666",
        examples=["13800138000"],
    ),
]
Region = Annotated[
    str,
    Field(
        max_length=rules.REGION_MAX,
        description="Province, city and district as one text",
        examples=["浙江省 杭州市 西湖区"],
    ),
]
Detail = Annotated[
    str,
    Field(max_length=rules.DETAIL_MAX, description="Street, building, room"),
]
PostalCode = Annotated[
    str, Field(max_length=rules.POSTAL_CODE_MAX, description="6 digits", examples=["310000"])
]


class AddressIn(Request):
    recipient: Recipient
    phone: Phone
    region: Region
    detail: Detail
    postal_code: PostalCode | None = None
    is_default: bool = Field(
        default=False, description="Make it the default (the first address always is)"
    )


class AddressPatch(Request):
    recipient: Recipient | None = None
    phone: Phone | None = None
    region: Region | None = None
    detail: Detail | None = None
    postal_code: PostalCode | None = Field(
        default=None, description='6 digits; "" or null clears it, omitted leaves it'
    )


class AddressOut(Response):
    address_id: str
    recipient: str
    phone: str
    region: str
    detail: str
    postal_code: str | None
    is_default: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, address: Address) -> AddressOut:
        return cls(
            address_id=address.address_id,
            recipient=address.recipient,
            phone=address.phone,
            region=address.region,
            detail=address.detail,
            postal_code=address.postal_code,
            is_default=address.is_default,
            created_at=address.created_at,
            updated_at=address.updated_at,
        )


class AddressList(Response):
    items: list[AddressOut] = Field(description="The default first, then the newest first")

    @classmethod
    def of(cls, found: list[Address]) -> AddressList:
        return cls(items=[AddressOut.of(a) for a in found])
