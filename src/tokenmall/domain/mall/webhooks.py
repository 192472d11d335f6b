"""Outbox events, the tenants' webhook endpoints, and each delivery with its attempts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class Endpoint:
    tenant_id: str
    endpoint_id: str
    url: str
    event_types: tuple[str, ...]
    secret: str
    description: str
    created_by: str
    created_at: datetime
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class Attempt:
    attempt: int
    attempted_at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, slots=True)
class Delivery:
    tenant_id: str
    delivery_id: str
    event_id: str
    event_type: str
    endpoint_id: str
    status: DeliveryStatus
    attempts: int
    failures: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: datetime | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Event:
    tenant_id: str
    event_id: str
    event_type: str
    data: dict[str, Any]
    created_at: datetime
