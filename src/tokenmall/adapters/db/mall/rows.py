"""Small helpers shared by the repositories."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any


def aware(value: Any) -> datetime:
    """SQLite hands datetimes back naive; every stored datetime is UTC."""
    assert isinstance(value, datetime)
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def maybe_aware(value: Any) -> datetime | None:
    return None if value is None else aware(value)
