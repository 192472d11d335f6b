"""Consumers' shipping addresses (收货地址): an address book per user, one of them the default.

An order keeps a snapshot of the address it ships to (``mall_orders.shipping_*``), so editing or
deleting an address here never changes an order already placed. The rules (at most 20 an
address book, exactly one default while any exist) are kept by ``services/mall/addresses.py``,
which locks the user's row first so two requests of one user never interleave. Migration
``0012_addresses``.
"""

from __future__ import annotations

from dataclasses import fields
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    DateTime,
    ForeignKeyConstraint,
    Index,
    PrimaryKeyConstraint,
    String,
    Table,
    delete,
    func,
    insert,
    select,
    update,
)

from tokenmall.adapters.db.mall.rows import record
from tokenmall.adapters.db.mall.tables import ID, TENANT_ID, metadata, users
from tokenmall.domain.mall.addresses import (
    DETAIL_MAX,
    PHONE_MAX,
    POSTAL_CODE_MAX,
    RECIPIENT_MAX,
    REGION_MAX,
    Address,
)


def _at(name: str) -> Column[Any]:
    return Column(name, DateTime(timezone=True), nullable=False)


addresses = Table(
    "mall_addresses",
    metadata,
    Column("tenant_id", String(TENANT_ID), nullable=False),
    Column("address_id", String(ID), nullable=False),
    Column("user_id", String(ID), nullable=False),
    Column("recipient", String(RECIPIENT_MAX), nullable=False),
    Column("phone", String(PHONE_MAX), nullable=False),
    # Province, city and district as one text, e.g. "浙江省 杭州市 西湖区".
    Column("region", String(REGION_MAX), nullable=False),
    # Street, building, room.
    Column("detail", String(DETAIL_MAX), nullable=False),
    Column("postal_code", String(POSTAL_CODE_MAX), nullable=True),
    Column("is_default", Boolean, nullable=False),
    _at("created_at"),
    _at("updated_at"),
    PrimaryKeyConstraint("tenant_id", "address_id"),
    ForeignKeyConstraint(["tenant_id", "user_id"], ["mall_users.tenant_id", "mall_users.user_id"]),
    Index("ix_mall_addresses_tenant_user", "tenant_id", "user_id"),
)


def _address(row: Any) -> Address:
    return record(Address, row, utc=True)


address_of_row = _address  # a row of every column of ``mall_addresses`` (``checkout_reads``)


def _fields(address: Address) -> dict[str, Any]:
    return {f.name: getattr(address, f.name) for f in fields(Address)}


def lock_user(conn: Connection, tenant_id: str, user_id: str) -> None:
    """Hold the user's row until the transaction ends (PostgreSQL; SQLite has one writer)."""
    conn.execute(
        select(users.c.user_id)
        .where(users.c.tenant_id == tenant_id, users.c.user_id == user_id)
        .with_for_update()
    )


def of_user(conn: Connection, tenant_id: str, user_id: str) -> list[Address]:
    """The user's addresses: the default first, then the newest first."""
    query = (
        select(addresses)
        .where(addresses.c.tenant_id == tenant_id, addresses.c.user_id == user_id)
        .order_by(
            addresses.c.is_default.desc(),
            addresses.c.created_at.desc(),
            addresses.c.address_id.desc(),
        )
    )
    return [_address(row) for row in conn.execute(query)]


def count_of_user(conn: Connection, tenant_id: str, user_id: str) -> int:
    query = select(func.count()).where(
        addresses.c.tenant_id == tenant_id, addresses.c.user_id == user_id
    )
    return int(conn.execute(query).scalar_one())


def get(conn: Connection, tenant_id: str, address_id: str) -> Address | None:
    row = conn.execute(
        select(addresses).where(
            addresses.c.tenant_id == tenant_id, addresses.c.address_id == address_id
        )
    ).first()
    return None if row is None else _address(row)


def default_of(conn: Connection, tenant_id: str, user_id: str) -> Address | None:
    row = conn.execute(
        select(addresses)
        .where(
            addresses.c.tenant_id == tenant_id,
            addresses.c.user_id == user_id,
            addresses.c.is_default.is_(True),
        )
        .order_by(addresses.c.address_id)
        .limit(1)
    ).first()
    return None if row is None else _address(row)


def add(conn: Connection, address: Address) -> None:
    conn.execute(insert(addresses).values(**_fields(address)))


def change(conn: Connection, tenant_id: str, address_id: str, **values: Any) -> None:
    conn.execute(
        update(addresses)
        .where(addresses.c.tenant_id == tenant_id, addresses.c.address_id == address_id)
        .values(**values)
    )


def make_default(
    conn: Connection, tenant_id: str, user_id: str, address_id: str, now: datetime
) -> None:
    """``address_id`` becomes the user's one default (the others are cleared)."""
    mine = (addresses.c.tenant_id == tenant_id) & (addresses.c.user_id == user_id)
    conn.execute(
        update(addresses)
        .where(mine, addresses.c.is_default.is_(True), addresses.c.address_id != address_id)
        .values(is_default=False, updated_at=now)
    )
    conn.execute(
        update(addresses)
        .where(mine, addresses.c.address_id == address_id, addresses.c.is_default.is_(False))
        .values(is_default=True, updated_at=now)
    )


def remove(conn: Connection, tenant_id: str, address_id: str) -> int:
    done = conn.execute(
        delete(addresses).where(
            addresses.c.tenant_id == tenant_id, addresses.c.address_id == address_id
        )
    )
    return int(done.rowcount)
