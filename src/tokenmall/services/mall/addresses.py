"""A consumer's address book (收货地址): list, add, change, delete, choose the default.

Consumers only, and only their own addresses: another user's address (or another tenant's) is
answered as unknown (404), as orders are. The rules:

* at most ``MAX_ADDRESSES`` addresses a user;
* the first address is the default, and while any address exists exactly one is the default;
  deleting the default makes the newest remaining address the default;
* every text is trimmed, bounded and free of control characters; a phone is a Chinese mobile
  number (``1[3-9]`` and 9 more digits) or a landline of digits and dashes
  (``0571-88886666``, ``010-12345678-123``); a postal code is 6 digits.

The use cases run in a ``UnitOfWork`` (its ``addresses`` port). Each change locks the user's
row first (``lock_user``) so two requests of one user cannot
both pass the limit or leave two defaults. Checkout takes the chosen address (or the default) as
a snapshot on its orders (``snapshot``), so later changes here never touch an order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from tokenmall.domain.mall import addresses as rules
from tokenmall.domain.mall.addresses import Address
from tokenmall.domain.mall.orders import ShippingAddress
from tokenmall.domain.mall.people import Role
from tokenmall.services.mall import ids, validate
from tokenmall.services.mall.auth import Principal, require
from tokenmall.services.mall.errors import Conflict, InvalidInput, NotFound
from tokenmall.services.unit_of_work import AddressBook, UnitOfWork

OWNERS: tuple[Role, ...] = (Role.CONSUMER,)
MAX_ADDRESSES = 20
MOBILE = re.compile(r"^1[3-9][0-9]{9}$")
# An area code (0 and 2-3 digits) with an optional dash, 7-8 digits, an optional extension;
# or the local number alone.
LANDLINE = re.compile(r"^(0[0-9]{2,3}-?)?[0-9]{7,8}(-[0-9]{1,6})?$")
POSTAL_CODE = re.compile(r"^[0-9]{6}$")


@dataclass(frozen=True, slots=True)
class AddressFields:
    """The checked values of an address (also what a form re-shows)."""

    recipient: str
    phone: str
    region: str
    detail: str
    postal_code: str | None


def _text(value: object, field: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field)
    return validate.text(value, field, max_length=max_length)


def phone(value: object, field: str = "phone") -> str:
    cleaned = _text(value, field, rules.PHONE_MAX).replace(" ", "")
    if not (MOBILE.match(cleaned) or LANDLINE.match(cleaned)):
        raise InvalidInput(
            f"{field} must be a mobile number (11 digits starting 13-19) or a landline of "
            f"digits and dashes such as 0571-88886666, got {value!r}",
            field,
        )
    return cleaned


def postal_code(value: object, field: str = "postal_code") -> str | None:
    """Six digits, or None for none (``None`` or an empty text)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise InvalidInput(f"{field} must be text", field)
    cleaned = value.strip()
    if not cleaned:
        return None
    if not POSTAL_CODE.match(cleaned):
        raise InvalidInput(f"{field} must be 6 digits, got {value!r}", field)
    return cleaned


def checked(
    *,
    recipient: object,
    phone_number: object,
    region: object,
    detail: object,
    postal: object,
) -> AddressFields:
    return AddressFields(
        recipient=_text(recipient, "recipient", rules.RECIPIENT_MAX),
        phone=phone(phone_number),
        region=_text(region, "region", rules.REGION_MAX),
        detail=_text(detail, "detail", rules.DETAIL_MAX),
        postal_code=postal_code(postal),
    )


def _own(book: AddressBook, who: Principal, tenant_id: str, address_id: str) -> Address:
    found = book.get(tenant_id, address_id) if len(address_id) <= 40 else None
    if found is None or found.user_id != who.subject_id:
        raise NotFound(f"no address {address_id!r} in your address book", "address_id")
    return found


# --- reading ---


def list_addresses(uow: UnitOfWork, caller: Principal | None, tenant_id: str) -> list[Address]:
    """The caller's addresses: the default first, then the newest first."""
    who = require(caller, tenant_id, OWNERS)
    return uow.addresses.of_user(tenant_id, who.subject_id)


def get_address(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, address_id: str
) -> Address:
    who = require(caller, tenant_id, OWNERS)
    return _own(uow.addresses, who, tenant_id, address_id)


# --- changing ---


def create(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    values: AddressFields,
    *,
    make_default: bool,
    now: datetime,
) -> Address:
    """Add an address; the first one (or one asked to be) becomes the default."""
    who = require(caller, tenant_id, OWNERS)
    book = uow.addresses
    book.lock_user(tenant_id, who.subject_id)
    count = book.count_of_user(tenant_id, who.subject_id)
    if count >= MAX_ADDRESSES:
        raise Conflict(f"an address book holds at most {MAX_ADDRESSES} addresses: delete one first")
    address = Address(
        tenant_id=tenant_id,
        address_id=ids.new_id("adr"),
        user_id=who.subject_id,
        recipient=values.recipient,
        phone=values.phone,
        region=values.region,
        detail=values.detail,
        postal_code=values.postal_code,
        is_default=False,
        created_at=now,
        updated_at=now,
    )
    book.add(address)
    if count == 0 or make_default:
        book.make_default(tenant_id, who.subject_id, address.address_id, now)
    return _own(book, who, tenant_id, address.address_id)


def update(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    address_id: str,
    *,
    recipient: object = None,
    phone_number: object = None,
    region: object = None,
    detail: object = None,
    postal: object = None,
    postal_given: bool = False,
    now: datetime,
) -> Address:
    """Change the fields given (``None``: unchanged; ``postal_given`` with an empty or ``None``
    postal code clears it). Orders placed with this address keep their snapshot."""
    who = require(caller, tenant_id, OWNERS)
    book = uow.addresses
    book.lock_user(tenant_id, who.subject_id)
    old = _own(book, who, tenant_id, address_id)
    values: dict[str, object] = {}
    if recipient is not None:
        values["recipient"] = _text(recipient, "recipient", rules.RECIPIENT_MAX)
    if phone_number is not None:
        values["phone"] = phone(phone_number)
    if region is not None:
        values["region"] = _text(region, "region", rules.REGION_MAX)
    if detail is not None:
        values["detail"] = _text(detail, "detail", rules.DETAIL_MAX)
    if postal_given:
        values["postal_code"] = postal_code(postal)
    if not values:
        raise InvalidInput("give at least one field to change", "recipient")
    book.change(tenant_id, old.address_id, now, values)
    return _own(book, who, tenant_id, address_id)


def replace(
    uow: UnitOfWork,
    caller: Principal | None,
    tenant_id: str,
    address_id: str,
    values: AddressFields,
    now: datetime,
) -> Address:
    """Every field at once (the address book's edit form)."""
    return update(
        uow,
        caller,
        tenant_id,
        address_id,
        recipient=values.recipient,
        phone_number=values.phone,
        region=values.region,
        detail=values.detail,
        postal=values.postal_code,
        postal_given=True,
        now=now,
    )


def set_default(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, address_id: str, now: datetime
) -> Address:
    who = require(caller, tenant_id, OWNERS)
    book = uow.addresses
    book.lock_user(tenant_id, who.subject_id)
    _own(book, who, tenant_id, address_id)
    book.make_default(tenant_id, who.subject_id, address_id, now)
    return _own(book, who, tenant_id, address_id)


def delete(
    uow: UnitOfWork, caller: Principal | None, tenant_id: str, address_id: str, now: datetime
) -> list[Address]:
    """Delete an address; if it was the default, the newest remaining one becomes the default.
    Orders placed with it keep their snapshot. Answers the address book left."""
    who = require(caller, tenant_id, OWNERS)
    book = uow.addresses
    book.lock_user(tenant_id, who.subject_id)
    old = _own(book, who, tenant_id, address_id)
    book.remove(tenant_id, old.address_id)
    left = book.of_user(tenant_id, who.subject_id)
    if old.is_default and left:
        newest = max(left, key=lambda a: (a.created_at, a.address_id))
        book.make_default(tenant_id, who.subject_id, newest.address_id, now)
        left = book.of_user(tenant_id, who.subject_id)
    return left


# --- checkout ---


def for_checkout(
    book: AddressBook, who: Principal, tenant_id: str, address_id: str | None
) -> ShippingAddress | None:
    """The snapshot an order keeps: the address given (the buyer's own, else 404), or the
    buyer's default when none is given, or None when they have no address (in checkout's
    unit)."""
    if address_id is None:
        found = book.default_of(tenant_id, who.subject_id)
    else:
        if not address_id.strip():
            raise InvalidInput(
                "address_id must be the id of an address in your address book", "address_id"
            )
        found = _own(book, who, tenant_id, address_id.strip())
    return None if found is None else snapshot(found)


def snapshot(address: Address) -> ShippingAddress:
    return ShippingAddress(address.recipient, address.phone, address.full_text)
