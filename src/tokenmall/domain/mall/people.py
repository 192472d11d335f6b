"""Tenants' people: users with a role and a real-name (KYC) status, and their credentials."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class Role(StrEnum):
    CONSUMER = "consumer"
    MERCHANT = "merchant"
    ADMIN = "admin"


class KycStatus(StrEnum):
    NONE = "none"
    PENDING = "pending"
    VERIFIED = "verified"
    REJECTED = "rejected"


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
