"""What the mall's use cases read and return: plain frozen values, no database types."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

Role = Literal["consumer", "merchant", "admin"]
KycStatus = Literal["none", "pending", "verified", "rejected"]


@dataclass(frozen=True, slots=True)
class Tenant:
    tenant_id: str
    name: str
    params: dict[str, object]
    params_version: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class User:
    tenant_id: str
    user_id: str
    email: str
    display_name: str
    role: Role
    kyc_status: KycStatus
    invite_code: str
    inviter_id: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Credential:
    """A stored secret's owner, for authentication (session or API key)."""

    owner_id: str
    secret_hash: str
    expires_at: datetime | None
    revoked: bool


@dataclass(frozen=True, slots=True)
class ApiKey:
    tenant_id: str
    key_id: str
    user_id: str
    name: str
    created_at: datetime
    revoked_at: datetime | None


@dataclass(frozen=True, slots=True)
class Merchant:
    tenant_id: str
    merchant_id: str
    name: str
    owner_user_id: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Product:
    tenant_id: str
    product_id: str
    merchant_id: str
    title: str
    description: str
    status: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Sku:
    tenant_id: str
    sku_id: str
    product_id: str
    name: str
    price_fen: int
    stock: int
    pool_contribution_fen: int | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StockMovement:
    tenant_id: str
    movement_id: str
    sku_id: str
    change: int
    stock_after: int
    reason: str
    reference: str | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredResponse:
    request_hash: str
    status_code: int
    body: str
