"""Small helpers shared by the repositories."""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Column, DateTime

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

R = TypeVar("R", bound="DataclassInstance")


def aware(value: Any) -> datetime:
    """SQLite hands datetimes back naive; every stored datetime is UTC."""
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def maybe_aware(value: Any) -> datetime | None:
    return None if value is None else aware(value)


def record(cls: type[R], row: Any, *, utc: bool = False, **given: Any) -> R:
    """The dataclass ``cls`` from the row's columns of its fields' names; ``given`` supplies
    the fields that are not plain columns (decoded JSON, joined lists). ``utc``: every
    datetime read is made aware (SQLite hands them back naive)."""
    values = row._mapping
    out: dict[str, Any] = {}
    for f in fields(cls):
        value = given[f.name] if f.name in given else values[f.name]
        if utc and isinstance(value, datetime):
            value = aware(value)
        out[f.name] = value
    return cls(**out)


def values(enum: type[StrEnum]) -> tuple[str, ...]:
    """The stored spellings of a domain enum, in its order (for CHECK constraints)."""
    return tuple(member.value for member in enum)


def one_of(column: str, allowed: tuple[str, ...]) -> str:
    """A CHECK constraint's text: ``column`` holds one of ``allowed``."""
    return f"{column} IN ({', '.join(repr(v) for v in allowed)})"


def at(name: str, nullable: bool = False) -> Column[Any]:
    """A timestamp column (with time zone)."""
    return Column(name, DateTime(timezone=True), nullable=nullable)
